import ComputeCore
import ComputeTesting
import Foundation
import InMemoryStore
import JSONFileStore
import Testing

/// Record files are written by `JSONEncoder` and read by `RecordScanner` (`ServerRecord`,
/// `FlavorRecord`).
@Suite struct RecordFormatTests {
    static func server(name: String = "web-1", metadata: [String: String] = ["role": "db"], keyName: String? = "k") -> Server {
        Server(
            id: "3f0e2a6c-5b1d-4c57-9d6e-0d3f1c2b7a10", name: name, projectID: "p", userID: "u", status: .shutoff,
            flavor: FlavorSnapshot(
                id: "2", name: "m1.small", vcpus: 1, ram: 2048, disk: 20, swap: 0, ephemeral: 0, extraSpecs: ["a": "b"]),
            image: "cirros-0.3.4-x86_64-uec", imageID: Image.defaults[0].id, description: "web tier", keyName: keyName,
            network: "private", address: IPv4Address("10.0.0.2"),
            access: ServerAccess(ipv4: IPv4Address("192.0.2.7"), ipv6: "2001:db8::7", diskConfig: .auto), metadata: metadata,
            tags: ["a", "b c"], securityGroups: ["g1", "g2"],
            actions: [
                InstanceAction(
                    action: "create", requestID: "req-1", userID: "u", projectID: "p",
                    started: Timestamp(microsecondsSinceEpoch: 1_795_928_696_123_456))
            ],
            reservationID: "r-abcdefgh", launchIndex: 3,
            created: Timestamp(microsecondsSinceEpoch: 1_795_928_696_123_456),
            updated: Timestamp(microsecondsSinceEpoch: 1_795_928_700_000_001), version: 4)
    }

    @Test(arguments: [
        ("plain", [:]), ("quote \" backslash \\ slash /", ["k\"": "v\\"]), ("ünïcødé 名前 🚀", ["emoji 🚀": "𝄞 clef"]),
        ("tab\tnewline\ncontrol\u{1}", ["\u{7f}": "\u{1b}[31m"]), ("", [:]),
    ])
    func serversRoundTrip(name: String, metadata: [String: String]) throws {
        let original = Self.server(name: name, metadata: metadata)
        #expect(try ServerRecord.decode(ServerRecord.encode(original)) == original)
        var noKey = original
        noKey.keyName = nil
        noKey.address = nil
        noKey.network = nil
        noKey.access = .unset
        noKey.tags = []
        noKey.securityGroups = nil
        noKey.actions = []
        #expect(try ServerRecord.decode(ServerRecord.encode(noKey)) == noKey)
        var inNoGroup = original
        inNoGroup.securityGroups = []
        #expect(try ServerRecord.decode(ServerRecord.encode(inNoGroup)) == inNoGroup, "none is not the default group")
        var deleted = original
        deleted.deleted = Timestamp(microsecondsSinceEpoch: 1_795_928_800_000_002)
        #expect(try ServerRecord.decode(ServerRecord.encode(deleted)) == deleted, "what is kept of a deleted server")
    }

    @Test func flavorsRoundTrip() throws {
        let flavor = Flavor(
            id: "..", name: "odd", vcpus: 2, ram: 1024, disk: 0, swap: 512, ephemeral: 3, isPublic: false,
            accessProjects: ["b", "a"], description: "a \"quoted\" one", extraSpecs: ["hw:cpu_policy": "dedicated"],
            created: Timestamp(microsecondsSinceEpoch: 0), version: 7)
        #expect(try FlavorRecord.decode(FlavorRecord.encode(flavor, recordKey: "k")) == (flavor, "k"))
        var bare = flavor
        bare.description = nil
        #expect(try FlavorRecord.decode(FlavorRecord.encode(bare, recordKey: "k")).flavor == bare)
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let bytes = try ServerRecord.encode(Self.server())
        for length in 0..<bytes.count - 1 {
            // Where a record is cut decides which problem is found first; any is a refusal that says one.
            #expect {
                try ServerRecord.decode(Array(bytes[..<length]))
            } throws: { error in
                (error as? RecordFormatError).map { !$0.description.isEmpty } ?? false
            }
        }
    }

    @Test func randomMutationsNeverCrash() throws {
        let bytes = try ServerRecord.encode(Self.server())
        var generator = SplitMix(seed: 7)
        let interesting: [UInt8] = [0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0xFF, 0xC3, 0x30, 0x2D, 0x65]
        var (read, refused) = (0, 0)
        for _ in 0..<3_000 {
            var mutated = bytes
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let at = Int(generator.next() % UInt64(mutated.count))
                mutated[at] = interesting[Int(generator.next() % UInt64(interesting.count))]
            }
            // A mutation that still reads as a record must be one the format writes back as
            // itself; any other must be refused with a reason, never a crash.
            do {
                let server = try ServerRecord.decode(mutated)
                #expect(try ServerRecord.decode(ServerRecord.encode(server)) == server)
                read += 1
            } catch let error as RecordFormatError {
                #expect(!error.description.isEmpty)
                refused += 1
            } catch {
                Issue.record("re-encoding a record that was read failed: \(error)")
            }
        }
        #expect(read > 0 && refused > 0, "the mutations reach both outcomes (read \(read), refused \(refused))")
    }

    @Test(arguments: [
        ("not JSON", "hello", "expected '{' at byte 0"), ("array", "[]", "expected '{' at byte 0"),
        ("leading zero", #"{"format": 01}"#, "leading zero at byte 11"),
        ("fraction", #"{"format": 1.0}"#, "expected an integer at byte 12"),
        ("overflow", #"{"format": 99999999999999999999}"#, "integer too large at byte 29"),
        ("lone surrogate", #"{"format": 1, "name": "\ud800"}"#, "lone surrogate at byte 29"),
        ("bad escape", #"{"format": 1, "name": "\q"}"#, "invalid escape at byte 25"),
        ("raw control character", "{\"format\": 1, \"name\": \"a\u{1}b\"}", "control character in a string at byte 25"),
        ("unterminated", #"{"format": 1, "name": "ab"#, "unterminated string at byte 25"),
        ("missing fields", #"{"format": 1}"#, "missing or invalid id"),
        ("newer format", #"{"format": 7}"#, "unsupported server record format 7 at byte 13"),
        ("wrong type", #"{"format": "1"}"#, "expected an integer at byte 11"),
        (
            "deep unknown field", #"{"x": "# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
            "nested too deeply at byte 38"
        ),
    ])
    func malformedRecordsAreRefused(label: String, text: String, problem: String) {
        #expect(throws: RecordFormatError(description: problem)) { try ServerRecord.decode(Array(text.utf8)) }
    }

    @Test func aWholeRecordWithTrailingDataIsRefused() throws {
        let record = try ServerRecord.encode(Self.server())
        #expect(throws: RecordFormatError(description: "unexpected data after the value at byte \(record.count + 1)")) {
            try ServerRecord.decode(record + Array(" x".utf8))
        }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes = Array(#"{"format": 1, "name": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: RecordFormatError(description: "invalid UTF-8 at byte 26")) { try ServerRecord.decode(bytes) }
    }

    @Test func unknownFieldsAreSkippedAndEscapesDecoded() throws {
        var text = String(decoding: try ServerRecord.encode(Self.server()), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"format\"", with: "\"later\": {\"a\": [1, -2.5e3, true, null, \"x\"]}, \"format\"")
        text = text.replacingOccurrences(of: "\"web-1\"", with: "\"w\\u00e9b\\ud83d\\ude80\\/1\"")
        #expect(try ServerRecord.decode(Array(text.utf8)).name == "wéb🚀/1")
    }

    @Test func aFormatOneServerGetsItsImageIdFromTheCatalogByName() throws {
        let record = """
            {"format":1,"id":"3f0e2a6c-5b1d-4c57-9d6e-0d3f1c2b7a10","name":"old","project_id":"p1","user_id":"u1",
            "status":"ACTIVE","flavor":{"id":"1","name":"m1.tiny","vcpus":1,"ram":512,"disk":1,"swap":0,"ephemeral":0,
            "extra_specs":{}},"image":"cirros-0.3.4-x86_64-uec","key_name":null,"network":"private","address":"10.0.0.2",
            "metadata":{},"reservation_id":"r-abcdefgh","launch_index":0,"created":"2026-11-29T05:11:36.000000Z",
            "updated":"2026-11-29T05:11:36.000000Z"}
            """
        let server = try ServerRecord.decode(Array(record.utf8))
        #expect(
            server.imageID == "" && server.description == nil && server.version == 1 && server.access == .unset
                && server.tags.isEmpty)
        let store = InMemoryStore(
            records: LoadedRecords(servers: [server], isNew: false), networks: [.defaultPrivate], images: Image.defaults,
            persistence: MemoryPersistence())
        #expect(store.server(id: server.id)?.imageID == Image.defaults[0].id)
        #expect(store.loadWarnings.isEmpty)
    }

    @Test func aFormatOneFlavorHasNoAccessListAndIsVersionOne() throws {
        let record = #"""
            {"format": 1, "id": "x", "name": "x", "vcpus": 1, "ram": 1, "disk": 0, "swap": 0, "ephemeral": 0,
             "is_public": false, "description": null, "extra_specs": {}, "created": "2026-01-01T00:00:00Z", "record_key": "k"}
            """#
        let (flavor, key) = try FlavorRecord.decode(Array(record.utf8))
        #expect(flavor.accessProjects.isEmpty && !flavor.isPublic && flavor.version == 1 && key == "k")
    }

    /// Byte for byte what the release before the store seam (bcd9ea6) wrote: format 2, no
    /// `version`. Reading it as damaged set every flavor aside on upgrade.
    @Test func aFormatTwoFlavorOfTheLastReleaseLoads() throws {
        let record = #"""
            {
              "access_projects" : [

              ],
              "created" : "2026-12-03T13:30:16.908168Z",
              "description" : null,
              "disk" : 160,
              "ephemeral" : 0,
              "extra_specs" : {

              },
              "format" : 2,
              "id" : "5",
              "is_public" : true,
              "name" : "m1.xlarge",
              "ram" : 16384,
              "record_key" : "116d36ba-573d-4194-aee1-b42aaf5bd0e8",
              "swap" : 0,
              "vcpus" : 8
            }
            """#
        let (flavor, key) = try FlavorRecord.decode(Array(record.utf8))
        #expect(flavor.name == "m1.xlarge" && flavor.vcpus == 8 && flavor.version == 1 && flavor.isPublic)
        #expect(key == "116d36ba-573d-4194-aee1-b42aaf5bd0e8")
        let rewritten = try FlavorRecord.decode(FlavorRecord.encode(flavor, recordKey: key))
        #expect(rewritten.0 == flavor, "and writes back as the current format")
    }
}
