import FastCGI
import Testing

@Suite struct AddressRangeTests {
    @Test(arguments: [
        ("10.0.0.5", "10.0.0.5", true), ("10.0.0.5", "10.0.0.6", false),
        ("10.0.0.0/24", "10.0.0.255", true), ("10.0.0.0/24", "10.0.1.0", false),
        ("10.0.0.9/24", "10.0.0.1", true),  // host bits are ignored
        ("0.0.0.0/0", "192.0.2.1", true), ("10.0.0.0/9", "10.127.255.255", true), ("10.0.0.0/9", "10.128.0.0", false),
        ("10.0.0.5", "::ffff:10.0.0.5", true),  // as a socket bound to :: sees an IPv4 peer
        ("fd00::/8", "fd12::1", true), ("fd00::/8", "fe80::1", false), ("::1", "::1", true), ("::1", "127.0.0.1", false),
    ])
    func containment(range: String, address: String, inside: Bool) throws {
        let parsed = try #require(AddressRange(range))
        #expect(parsed.contains(try #require(AddressRange.bytes(of: address))) == inside)
    }

    @Test(arguments: [
        "", "10.0.0", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/+8", "::/129", "host.example", "10.0.0.1/8/8", "10.0.0.1/٣",
    ])
    func notARange(text: String) {
        #expect(AddressRange(text) == nil)
    }

    @Test func describedWithItsLength() {
        #expect(AddressRange("10.0.0.5")?.description == "10.0.0.5/32")
        #expect(AddressRange("fd00::/8")?.description == "fd00::/8")
    }
}
