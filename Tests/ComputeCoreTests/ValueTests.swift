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
        for bad in ["10.0.0", "10.0.0.256", "10.0.0.02", "10.0.0.-1", "a.b.c.d", "10..0.1", " 10.0.0.1"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    @Test func networkHandsOutFromDotTwoToBelowBroadcast() throws {
        let network = try NetworkConfig(name: "private", cidr: "10.0.0.0/24")
        #expect(network.firstHost.description == "10.0.0.2")
        #expect(network.lastHost.description == "10.0.0.254")
        #expect(network.capacity == 253)
    }

    @Test(arguments: ["10.0.0.1/24", "10.0.0.0", "10.0.0.0/33", "10.0.0.0/31", "300.0.0.0/8", "10.0.0.0/x"])
    func rejectsBadCIDRs(cidr: String) {
        #expect(throws: ComputeError.self) { try NetworkConfig(name: "n", cidr: cidr) }
    }

    @Test func rejectsBadNetworkNames() {
        #expect(throws: ComputeError.self) { try NetworkConfig(name: "a b", cidr: "10.0.0.0/24") }
        #expect(throws: ComputeError.self) { try NetworkConfig(name: "", cidr: "10.0.0.0/24") }
    }
}

@Suite struct ValidationTests {
    @Test(arguments: ["demo", "demo_instance_final", "ünïcødé-名前", String(repeating: "x", count: 255), "a b"])
    func acceptsGoodNames(name: String) throws {
        try Validation.name(name, field: "server.name")
    }

    @Test(arguments: [
        "", " lead", "trail ", "a/b", "tab\there", "nl\nx", "nul\u{0}x", "del\u{7f}x", String(repeating: "x", count: 256),
        "line\u{2028}sep", "rtl\u{202E}gpj.exe", "isolate\u{2066}x", "non" + String(Unicode.Scalar(0xFFFF)!) + "char",
        "non" + String(Unicode.Scalar(0xFDD0)!) + "char",
    ])
    func rejectsBadNames(name: String) {
        #expect(throws: ComputeError.self) { try Validation.name(name, field: "server.name") }
    }

    @Test func errorsNameTheField() {
        #expect(throws: ComputeError.invalidInput("Invalid input for field 'server.name': must not contain '/'.")) {
            try Validation.name("a/b", field: "server.name")
        }
    }

    @Test func metadataLimits() throws {
        try Validation.metadata(Dictionary(uniqueKeysWithValues: (0..<128).map { ("k\($0)", "v") }), field: "m")
        #expect(throws: ComputeError.self) {
            try Validation.metadata(Dictionary(uniqueKeysWithValues: (0..<129).map { ("k\($0)", "v") }), field: "m")
        }
        #expect(throws: ComputeError.self) { try Validation.metadata(["": "v"], field: "m") }
        #expect(throws: ComputeError.self) { try Validation.metadata(["k": String(repeating: "v", count: 256)], field: "m") }
        #expect(throws: ComputeError.self) { try Validation.metadata([String(repeating: "k", count: 256): "v"], field: "m") }
    }

    @Test func flavorIDs() throws {
        try Validation.identifier("m1.custom_2-x", field: "id")
        for bad in ["", "a b", "a/b", "é", String(repeating: "x", count: 256)] {
            #expect(throws: ComputeError.self) { try Validation.identifier(bad, field: "id") }
        }
    }

    @Test func draftsCheckCounts() {
        #expect(throws: ComputeError.self) { try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 0) }
        #expect(throws: ComputeError.self) { try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 101) }
        #expect(throws: ComputeError.self) {
            try ServerDraft(name: "a", flavorReference: "1", image: "i", minCount: 3, maxCount: 2)
        }
        #expect(throws: ComputeError.self) { try ServerDraft(name: "a", flavorReference: "1", image: "") }
    }
}
