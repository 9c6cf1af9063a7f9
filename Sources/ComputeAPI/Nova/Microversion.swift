public import HTTPTypes

/// A compute API microversion, `2.N`: which shape a Nova client asked for.
public struct Microversion: Sendable, Comparable, Hashable, CustomStringConvertible {
    public var minor: Int

    public init(_ minor: Int) { self.minor = minor }

    public static let minimum = Microversion(1)
    /// The newest shape served; every response change up to it is honoured.
    public static let maximum = Microversion(100)

    public var description: String { "2.\(minor)" }

    public static func < (a: Microversion, b: Microversion) -> Bool { a.minor < b.minor }

    /// The version a request asks for (Nova's rules): `OpenStack-API-Version: compute X` wins
    /// over `X-OpenStack-Nova-API-Version: X`; none means 2.1, `latest` the maximum; a
    /// malformed value is a 400 and one out of range a 406, both with the version headers.
    public static func negotiate(_ fields: HTTPFields) throws(APIError) -> Microversion {
        var requested: String? = nil
        if let header = fields[.openStackAPIVersion] {
            for item in header.split(separator: ",") {
                let words = item.split(separator: " ", omittingEmptySubsequences: true)
                if words.count == 2, words[0].lowercased() == "compute" { requested = String(words[1]) }
            }
        }
        if requested == nil { requested = fields[.novaAPIVersion]?.trimmingSpaces }
        guard let requested else { return .minimum }
        if requested.lowercased() == "latest" { return .maximum }
        let parts = requested.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } })
        else {
            throw APIError(
                .badRequest, "Invalid format of the microversion '\(requested.prefix(32))': expected 2.N or 'latest'.",
                headerFields: varyFields)
        }
        let version = Microversion(minor)
        guard major == 2, (minimum...maximum).contains(version) else {
            throw APIError(
                .notAcceptable,
                "Version \(requested.prefix(32)) is not supported by the API. Minimum is \(minimum) and maximum is \(maximum).",
                headerFields: varyFields)
        }
        return version
    }

    /// The headers every microversioned response carries: the version, both ways, and `Vary`.
    public var responseFields: HTTPFields {
        var fields = Self.varyFields
        fields[.openStackAPIVersion] = "compute \(self)"
        fields[.novaAPIVersion] = description
        return fields
    }

    static let varyFields: HTTPFields = [.vary: "OpenStack-API-Version, X-OpenStack-Nova-API-Version"]
}

extension HTTPField.Name {
    static let openStackAPIVersion = HTTPField.Name("OpenStack-API-Version")!
    static let novaAPIVersion = HTTPField.Name("X-OpenStack-Nova-API-Version")!
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
