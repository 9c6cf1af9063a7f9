public import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The tokens of a data directory (`tokens/`): created, listed and revoked by the CLI,
/// checked by the worker.
public final class TokenStore: Authenticator {
    static let subdirectory = "tokens"
    private let files: WatchedDirectory<TokenRecord>
    private let clock: any Clock

    public init(
        dataDirectory: String, clock: any Clock = SystemClock(), report: @escaping @Sendable ([String]) -> Void = { _ in }
    ) {
        files = WatchedDirectory(dataDirectory: dataDirectory, subdirectory: Self.subdirectory, report: report)
        self.clock = clock
    }

    /// The caller a token stands for: its record exists, has not expired, and the SHA-256 of
    /// the secret matches (compared in constant time).
    public func caller(forToken token: String) -> Caller? {
        guard let presented = PresentedToken(token), let record = files.items[presented.id] else { return nil }
        return record.caller(presenting: presented, at: clock.now())
    }

    /// Makes a token and stores its hash; the token is returned once and kept nowhere.
    public static func create(
        dataDirectory: String, project: String, user: String, role: Role, expires: Timestamp?, clock: any Clock = SystemClock()
    ) throws -> (token: String, record: TokenRecord) {
        let (token, record) = try TokenRecord.make(project: project, user: user, role: role, expires: expires, clock: clock)
        try ControlDirectory.write(record, name: record.id, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return (token, record)
    }

    public static func list(dataDirectory: String) throws -> (records: [TokenRecord], problems: [String]) {
        let (items, problems) = try ControlDirectory.readAll(
            TokenRecord.self, dataDirectory: dataDirectory, subdirectory: subdirectory)
        return (items.values.sorted { ($0.created, $0.id) < ($1.created, $1.id) }, problems)
    }

    /// Deletes a token's record; false when there is no such token.
    public static func revoke(dataDirectory: String, id: String) throws -> Bool {
        guard PresentedToken.isID(id) else { return false }
        return try ControlDirectory.remove(name: id, dataDirectory: dataDirectory, subdirectory: subdirectory)
    }
}
