import CLibFuzzer
import FuzzHarness

#if canImport(Glibc)
    import Glibc
#endif

/// One harness for the process (libFuzzer calls in from one thread).
let fuzzer = RequestFuzzer()

/// Checks one input; a problem is a crash, which is how libFuzzer learns of it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let problem = fuzzer.check(bytes) {
        fatalError("alliance-fuzz: \(problem)")
    }
    return 0
}

/// Built with `-sanitize=fuzzer -DFUZZING` (deploy/fuzz) this hands over to libFuzzer's
/// driver; built normally, `alliance-fuzz FILE…` replays inputs (a crash file, say).
@main
struct AllianceFuzz {
    static func main() {
        #if FUZZING
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
            var failed = false
            for path in CommandLine.arguments.dropFirst() {
                guard let bytes = readFile(path) else {
                    print("\(path): cannot read")
                    failed = true
                    continue
                }
                let problem = fuzzer.check(bytes)
                print("\(path): \(problem ?? "ok")")
                failed = failed || problem != nil
            }
            exit(failed ? 1 : 0)
        #endif
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let count = fread(&buffer, 1, buffer.count, file), count > 0 {
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
