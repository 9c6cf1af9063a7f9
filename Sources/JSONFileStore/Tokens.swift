public import ComputeCore

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The CLI's tokens of a data directory (`tokens/`): created, listed and revoked by `token
/// create|list|revoke`. The worker checks them through `IdentityFiles`, beside the tokens the
/// identity API issues.
public enum TokenStore {
    static let subdirectory = "tokens"

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
