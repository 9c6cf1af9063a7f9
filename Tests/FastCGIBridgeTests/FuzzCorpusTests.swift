import FastCGI
import Foundation
import FuzzHarness
import Testing

/// Every input in FuzzCorpus (the seeds deploy/fuzz starts from, and every crash it ever
/// found, kept as a regression) goes through the same checks the fuzzer applies.
@Suite struct FuzzCorpusTests {
    static let corpus: [URL] = {
        guard let root = Bundle.module.url(forResource: "FuzzCorpus", withExtension: nil),
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        else { return [] }
        return files.compactMap { $0 as? URL }.filter { $0.pathExtension == "req" || $0.lastPathComponent.hasPrefix("crash-") }
            .sorted { $0.path < $1.path }
    }()

    @Test func theCorpusIsThere() {
        #expect(Self.corpus.count >= 12)
    }

    @Test(arguments: corpus)
    func inputPassesTheFuzzersChecks(_ file: URL) throws {
        let fuzzer = RequestFuzzer()
        let bytes = [UInt8](try Data(contentsOf: file))
        #expect(fuzzer.check(bytes) == nil)
    }

    @Test func inputsAreParsedAsDocumented() {
        let request = RequestFuzzer.request(from: Array("POST\n/servers?x=1\nHTTP_A=b\n\n{\"k\":1}\n".utf8))
        #expect(request.params["REQUEST_METHOD"] == "POST")
        #expect(request.params["REQUEST_URI"] == "/servers?x=1")
        #expect(request.params["HTTP_A"] == "b")
        #expect(request.body == .complete(Array("{\"k\":1}\n".utf8)))
        let declaredTooLarge = RequestFuzzer.request(from: Array("POST\n/servers\nCONTENT_LENGTH=70000\n\n{}".utf8))
        #expect(declaredTooLarge.body == .exceedsLimit)
    }
}
