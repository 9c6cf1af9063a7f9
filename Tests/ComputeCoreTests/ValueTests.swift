import ComputeCore
import Testing

@Suite struct TimestampTests {
    @Test func formatsWholeSecondsAndMicroseconds() {
        let t = Timestamp(microsecondsSinceEpoch: 1_795_928_696_123_456)
        #expect(t.iso8601Seconds == "2026-11-29T05:04:56Z")
        #expect(t.iso8601Microseconds == "2026-11-29T05:04:56.123456Z")
    }

    @Test(arguments: [
        "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2024-12-31T00:00:00.5Z", "1969-12-31T23:59:59.999999Z",
        "2100-03-01T12:00:00.000001Z",
    ])
    func parsesWhatItWrites(text: String) throws {
        let parsed = try #require(Timestamp(canonical: text))
        #expect(Timestamp(canonical: parsed.iso8601Microseconds) == parsed)
        #expect(parsed.iso8601Seconds.prefix(19) == text.prefix(19))
    }

    @Test(arguments: [
        "", "2026-11-29", "2026-11-29T05:04:56", "2026-13-01T00:00:00Z", "2026-11-29T05:04:56+01:00",
        "2026-11-29T05:04:56.1234567Z",
    ])
    func rejectsOtherForms(text: String) {
        #expect(Timestamp(canonical: text) == nil)
    }

    @Test func parsesWhatClientsSendWithZones() throws {
        let utc = try #require(Timestamp(canonical: "2026-11-29T05:04:56Z"))
        for text in ["2026-11-29T05:04:56", "2026-11-29T05:04:56Z", "2026-11-29T06:04:56+01:00", "2026-11-28T23:34:56-0530"] {
            #expect(Timestamp(iso8601: text) == utc, "\(text)")
        }
        #expect(
            Timestamp(iso8601: "2026-11-29T05:04:56.25+00:00")?.microsecondsSinceEpoch == utc.microsecondsSinceEpoch + 250_000)
        for bad in ["", "yesterday", "2026-11-29T05:04:56+1", "2026-11-29T05:04:56+25:00", "2026-11-29 05:04:56"] {
            #expect(Timestamp(iso8601: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct AddressingTests {
    @Test func parsesDottedQuadsStrictly() {
        #expect(IPv4Address("10.0.0.2")?.value == 0x0A00_0002)
        #expect(IPv4Address("0.0.0.0")?.value == 0)
        #expect(IPv4Address("255.255.255.255")?.value == 0xFFFF_FFFF)
        #expect(IPv4Address("192.168.100.10")?.value == 0xC0A8_640A)
        for bad in [
            "10.0.0", "10.0.0.256", "10.0.0.02", "10.0.0.-1", "a.b.c.d", "10..0.1", " 10.0.0.1", "", "10.0.0.1.",
            "10.0.0.1.2", ".10.0.0.1", "10.0.0.", "1000.0.0.1", "00.0.0.1", "10.0.0.1 ", "10.0.0.١",
        ] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    @Test func networkHandsOutFromDotTwoToBelowBroadcast() throws {
        let network = try NetworkConfig(name: "private", cidr: "10.0.0.0/24")
        #expect(network.firstHost.description == "10.0.0.2")
        #expect(network.lastHost.description == "10.0.0.254")
        #expect(network.capacity == 253)
    }

    @Test(arguments: ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/31", "300.0.0.0/8", "10.0.0.0/x"])
    func rejectsWhatIsNotACIDR(cidr: String) {
        #expect(throws: ComputeError.invalidInput("Network 'n': '\(cidr)' is not an IPv4 CIDR with a prefix from /8 to /30.")) {
            try NetworkConfig(name: "n", cidr: cidr)
        }
    }

    @Test func rejectsHostBits() {
        #expect(throws: ComputeError.invalidInput("Network 'n': '10.0.0.1/24' has host bits set.")) {
            try NetworkConfig(name: "n", cidr: "10.0.0.1/24")
        }
    }

    @Test(arguments: ["a b", ""])
    func rejectsBadNetworkNames(name: String) {
        #expect(
            throws: ComputeError.invalidInput(
                "Network name '\(name)' must be 1–64 characters of letters, digits, '-', '_' or '.'.")
        ) { try NetworkConfig(name: name, cidr: "10.0.0.0/24") }
    }
}

@Suite struct ValidationTests {
    @Test(arguments: ["demo", "demo_instance_final", "ünïcødé-名前", String(repeating: "x", count: 255), "a b"])
    func acceptsGoodNames(name: String) throws {
        try Validation.name(name, field: "server.name")
    }

    @Test(arguments: [
        ("", "must not be empty."), (" lead", "must not start or end with whitespace."),
        ("trail ", "must not start or end with whitespace."), ("a/b", "must not contain '/'."),
        ("tab\there", "must not contain control characters."), ("nl\nx", "must not contain control characters."),
        ("nul\u{0}x", "must not contain control characters."), ("del\u{7f}x", "must not contain control characters."),
        (String(repeating: "x", count: 256), "must be at most 255 characters long."),
        ("line\u{2028}sep", "must not contain control characters."),
        ("rtl\u{202E}gpj.exe", "must not contain bidirectional controls or noncharacters."),
        ("isolate\u{2066}x", "must not contain bidirectional controls or noncharacters."),
        ("non" + String(Unicode.Scalar(0xFFFF)!) + "char", "must not contain bidirectional controls or noncharacters."),
        ("non" + String(Unicode.Scalar(0xFDD0)!) + "char", "must not contain bidirectional controls or noncharacters."),
    ])
    func rejectsBadNames(name: String, reason: String) {
        #expect(throws: ComputeError.invalidField("server.name", reason)) { try Validation.name(name, field: "server.name") }
    }

    @Test func errorsNameTheField() {
        #expect(throws: ComputeError.invalidInput("Invalid input for field 'server.name': must not contain '/'.")) {
            try Validation.name("a/b", field: "server.name")
        }
    }

    @Test func metadataLimits() throws {
        try Validation.metadata(Dictionary(uniqueKeysWithValues: (0..<128).map { ("k\($0)", "v") }), field: "m")
        #expect(throws: ComputeError.invalidField("m", "must have at most 128 items.")) {
            try Validation.metadata(Dictionary(uniqueKeysWithValues: (0..<129).map { ("k\($0)", "v") }), field: "m")
        }
        #expect(throws: ComputeError.invalidField("m", "keys must be 1–255 characters long.")) {
            try Validation.metadata(["": "v"], field: "m")
        }
        #expect(throws: ComputeError.invalidField("m.k", "must be at most 255 characters long.")) {
            try Validation.metadata(["k": String(repeating: "v", count: 256)], field: "m")
        }
        #expect(throws: ComputeError.invalidField("m", "keys must be 1–255 characters long.")) {
            try Validation.metadata([String(repeating: "k", count: 256): "v"], field: "m")
        }
    }

    @Test func flavorIDs() throws {
        try Validation.identifier("m1.custom_2-x", field: "id")
        for bad in ["", "a b", "a/b", "é", String(repeating: "x", count: 256)] {
            #expect(throws: ComputeError.invalidField("id", "must be 1–255 characters of letters, digits, '.', '_' or '-'.")) {
                try Validation.identifier(bad, field: "id")
            }
        }
    }

    @Test func draftsCheckCounts() {
        #expect(throws: ComputeError.invalidField("server.min_count", "must be 1 or more.")) {
            try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 0)
        }
        #expect(throws: ComputeError.invalidField("server.min_count", "must be 100 or less.")) {
            try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 101)
        }
        #expect(throws: ComputeError.invalidField("server.min_count", "must not be greater than server.max_count.")) {
            try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 3, maxCount: 2)
        }
        #expect(throws: ComputeError.invalidField("server.image", "must not be empty.")) {
            try ServerDraft(name: "a", flavorReference: "1", image: "")
        }
    }
}

@Suite struct PasswordHashTests {
    @Test func aHashMatchesItsPasswordOnly() {
        let hash = PasswordHash(password: "correct horse", iterations: 1_000)
        #expect(hash.matches("correct horse"))
        #expect(!hash.matches("correct horse "))
        #expect(!hash.matches(""))
    }

    /// The decoy checked for a user that does not exist: the same algorithm and work factor as
    /// a real hash (so `matches` does the whole PBKDF2), but nothing matches it.
    @Test func theUnmatchableHashIsShapedLikeARealOne() {
        let real = PasswordHash(password: "x", iterations: 1_000)
        let decoy = PasswordHash.unmatchable(iterations: 1_000)
        #expect(decoy.algorithm == real.algorithm && decoy.iterations == real.iterations)
        #expect(decoy.salt.count == real.salt.count && Secrets.isHex(decoy.salt, count: 32))
        #expect(decoy.hash.count == real.hash.count && Secrets.isHex(decoy.hash, count: 64))
        for password in ["", "x", decoy.salt, decoy.hash] { #expect(!decoy.matches(password)) }
        #expect(PasswordHash.unmatchable(iterations: 1_000) != decoy)
    }
}
