import Foundation
import Testing

@testable import ComputeCore

/// Record files are written by JSONEncoder (as JSONFileStore does) and read by RecordScanner.
@Suite struct RecordScannerTests {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value))
    }

    static func server(name: String = "web-1", metadata: [String: String] = ["role": "db"], keyName: String? = "k") -> Server {
        Server(
            id: "3f0e2a6c-5b1d-4c57-9d6e-0d3f1c2b7a10", name: name, projectID: "p", userID: "u", status: .shutoff,
            flavor: FlavorSnapshot(
                id: "2", name: "m1.small", vcpus: 1, ram: 2048, disk: 20, swap: 0, ephemeral: 0, extraSpecs: ["a": "b"]),
            image: "cirros-0.3.4-x86_64-uec", imageID: Image.defaults[0].id, description: "web tier", keyName: keyName,
            network: "private", address: IPv4Address("10.0.0.2"),
            metadata: metadata, reservationID: "r-abcdefgh", launchIndex: 3,
            created: Timestamp(microsecondsSinceEpoch: 1_795_928_696_123_456),
            updated: Timestamp(microsecondsSinceEpoch: 1_795_928_700_000_001))
    }

    @Test(arguments: [
        ("plain", [:]), ("quote \" backslash \\ slash /", ["k\"": "v\\"]), ("ünïcødé 名前 🚀", ["emoji 🚀": "𝄞 clef"]),
        ("tab\tnewline\ncontrol\u{1}", ["\u{7f}": "\u{1b}[31m"]), ("", [:]),
    ])
    func serversRoundTrip(name: String, metadata: [String: String]) throws {
        let original = Self.server(name: name, metadata: metadata)
        #expect(try Server(record: Self.encode(original)) == original)
        var noKey = original
        noKey.keyName = nil
        noKey.address = nil
        noKey.network = nil
        #expect(try Server(record: Self.encode(noKey)) == noKey)
    }

    @Test func flavorsRoundTrip() throws {
        let flavor = Flavor(
            id: "..", name: "odd", vcpus: 2, ram: 1024, disk: 0, swap: 512, ephemeral: 3, isPublic: false,
            description: "a \"quoted\" one", extraSpecs: ["hw:cpu_policy": "dedicated"],
            created: Timestamp(microsecondsSinceEpoch: 0), recordKey: "k")
        #expect(try Flavor(record: Self.encode(flavor)) == flavor)
        var bare = flavor
        bare.description = nil
        #expect(try Flavor(record: Self.encode(bare)) == bare)
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let bytes = try Self.encode(Self.server())
        for length in 0..<bytes.count - 1 {
            #expect(throws: RecordFormatError.self) { try Server(record: Array(bytes[..<length])) }
        }
    }

    @Test func randomMutationsNeverCrash() throws {
        let bytes = try Self.encode(Self.server())
        var generator = SplitMix(seed: 7)
        let interesting: [UInt8] = [0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0xFF, 0xC3, 0x30, 0x2D, 0x65]
        for _ in 0..<3_000 {
            var mutated = bytes
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let at = Int(generator.next() % UInt64(mutated.count))
                mutated[at] = interesting[Int(generator.next() % UInt64(interesting.count))]
            }
            _ = try? Server(record: mutated)  // a record or an error; reaching here is the point
        }
    }

    @Test(arguments: [
        ("not JSON", "hello"), ("array", "[]"), ("trailing data", #"{"format": 1} x"#),
        ("leading zero", #"{"format": 01}"#), ("fraction", #"{"format": 1.0}"#),
        ("overflow", #"{"format": 99999999999999999999}"#),
        ("lone surrogate", #"{"format": 1, "name": "\ud800"}"#), ("bad escape", #"{"format": 1, "name": "\q"}"#),
        ("raw control character", "{\"format\": 1, \"name\": \"a\u{1}b\"}"), ("unterminated", #"{"format": 1, "name": "ab"#),
        ("missing fields", #"{"format": 1}"#), ("newer format", #"{"format": 2}"#), ("wrong type", #"{"format": "1"}"#),
        ("deep unknown field", #"{"x": "# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"),
    ])
    func malformedRecordsAreRefused(label: String, text: String) {
        #expect(throws: RecordFormatError.self) { try Server(record: Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes = Array(#"{"format": 1, "name": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: RecordFormatError.self) { try Server(record: bytes) }
    }

    @Test func unknownFieldsAreSkippedAndEscapesDecoded() throws {
        var text = String(decoding: try Self.encode(Self.server()), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"format\"", with: "\"later\": {\"a\": [1, -2.5e3, true, null, \"x\"]}, \"format\"")
        text = text.replacingOccurrences(of: "\"web-1\"", with: "\"w\\u00e9b\\ud83d\\ude80\\/1\"")
        #expect(try Server(record: Array(text.utf8)).name == "wéb🚀/1")
    }
}
