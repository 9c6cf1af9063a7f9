#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where new identifiers come from. Injected so tests can make them predictable.
public protocol IdentifierSource: Sendable {
    /// A new lower-case UUID.
    func uuid() -> String
    /// A new reservation id: `r-` and 8 characters of `[a-z0-9]`, as Nova makes them.
    func reservationID() -> String
}

public struct RandomIdentifiers: IdentifierSource {
    public init() {}

    public func uuid() -> String { UUID().uuidString.lowercased() }

    public func reservationID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return "r-" + String((0..<8).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
