import ArgumentParser
import Foundation

/// Where a command finds the inventory: a data directory of JSON files (the embedded default),
/// or a PostgreSQL database shared by several API hosts.
enum StoreLocation {
    case files(String)
    case database(String)
}

/// `--data-dir DIR` or `--database URL` (also `ALLIANCE_DATABASE_URL`), for every command that
/// reads or changes the store; /var/lib/alliance-compute when none is named, as installed.
struct StoreOptions: ParsableArguments {
    static let defaultDataDirectory = "/var/lib/alliance-compute"

    @Option(
        help: ArgumentHelp(
            "The worker's data directory (the JSON-file store). Default: /var/lib/alliance-compute, unless a database is named.",
            valueName: "dir"))
    var dataDir: String?

    @Option(
        help: ArgumentHelp(
            "The PostgreSQL store: a libpq connection string or URI (postgresql://…, or service=NAME with ~/.pg_service.conf and a PGPASSFILE, so no password is on a command line). Default: $ALLIANCE_DATABASE_URL.",
            valueName: "url"))
    var database: String?

    /// The store named: --data-dir, else --database, else ALLIANCE_DATABASE_URL, else the
    /// installed data directory.
    func location() throws -> StoreLocation {
        let environment = ProcessInfo.processInfo.environment["ALLIANCE_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        switch (dataDir, database ?? (dataDir == nil ? environment : nil)) {
        case (let directory?, nil):
            if environment != nil {
                // Never silently: the environment names a database, the flags a directory.
                FileHandle.standardError.write(
                    Data("warning: ALLIANCE_DATABASE_URL is set but --data-dir \(directory) is used\n".utf8))
            }
            return .files(directory)
        case (nil, let url?):
            if let environment, database != nil, environment != url {
                FileHandle.standardError.write(
                    Data("warning: ALLIANCE_DATABASE_URL is set but the database --database names is used\n".utf8))
            }
            return .database(url)
        case (.some, .some): throw ValidationError("Give either --data-dir or --database, not both.")
        case (nil, nil): return .files(Self.defaultDataDirectory)
        }
    }
}
