import ArgumentParser
import ComputeCore
import Foundation
import JSONFileStore
import Logging
import PostgresStore

#if canImport(Glibc)
    import Glibc
#endif

/// `alliance-compute db …`: the PostgreSQL store's schema.
struct Database: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the PostgreSQL store's schema.",
        subcommands: [Upgrade.self]
    )

    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring the database's schema to this release's version (safe to run again).",
            discussion: """
                The migrations are numbered and kept in the release; each is applied in its own \\
                transaction, and only one host applies them at a time. `serve` refuses a database at \\
                another version than its own.

                Example:
                  alliance-compute db upgrade --database 'postgresql://alliance@db.example/alliance'
                """)

        @OptionGroup var store: StoreOptions

        func run() throws {
            guard case .database(let url) = try store.location() else {
                throw ValidationError("db upgrade works on a database: give --database URL (or set ALLIANCE_DATABASE_URL).")
            }
            let (from, applied) = try cliErrors { try PostgresStore.upgrade(url: url) }
            if applied.isEmpty {
                print("the database is at schema version \(from), this release's: nothing to do")
            } else {
                print(
                    "upgraded the database from schema version \(from) to \(applied.last!) (applied \(applied.map(String.init).joined(separator: ", ")))"
                )
            }
        }
    }
}

/// `alliance-compute export`: any store → a directory of JSON records.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every server, flavor, token and quota override to a new data directory.",
        discussion: """
            The directory is in the JSON-file store's own layout (servers/, flavors/, tokens/, \\
            quotas/): `serve --data-dir` opens it as it is, `import` loads it into PostgreSQL, and it \\
            is a backup any file copy keeps. From a database it is one consistent snapshot; from a \\
            data directory, stop the worker first for one.

            Examples:
              alliance-compute export --database service=alliance --to /backup/alliance-2026-12-03
              alliance-compute export --data-dir /var/lib/alliance-compute --to /tmp/copy
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("The new directory to write (it must not exist, or be empty).", valueName: "dir"))
    var to: String

    func run() throws {
        let quiet = Logger(label: "export", factory: { _ in SwiftLogNoOpLogHandler() })
        let reading = Progress(verb: "read")
        defer { reading.finish() }
        let contents =
            switch try store.location() {
            case .files(let directory):
                try cliErrors { try JSONFileStore.contents(of: directory, logger: quiet, progress: reading.report) }
            case .database(let url): try cliErrors { try PostgresStore.contents(url: url, progress: reading.report) }
            }
        reading.finish()
        let progress = Progress(verb: "exported", total: contents.recordCount)
        try cliErrors { try JSONFileStore.write(contents, to: to, progress: progress.report) }
        progress.finish()
        print(
            "exported \(contents.summary) to \(to) (\(progress.rate(contents.recordCount)))"
        )
    }
}

/// `alliance-compute import`: a data directory → PostgreSQL, in one transaction.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a data directory (or an export) into the PostgreSQL store, all or nothing.",
        discussion: """
            Everything goes in one transaction: on any error the database is as it was. A database \\
            that already holds servers or flavors is refused unless --replace is given, which deletes \\
            them first. Stop the workers on the data directory first.

            Example:
              alliance-compute import --from /var/lib/alliance-compute --database service=alliance
            """)

    @Option(help: ArgumentHelp("The data directory to load.", valueName: "dir"))
    var from: String

    @Option(
        help: ArgumentHelp(
            "The PostgreSQL store (a libpq connection string or URI). Default: $ALLIANCE_DATABASE_URL.", valueName: "url"))
    var database: String?

    @Flag(help: "Delete what the database holds before loading.")
    var replace = false

    func run() throws {
        guard let url = database ?? ProcessInfo.processInfo.environment["ALLIANCE_DATABASE_URL"] else {
            throw ValidationError("Give --database URL (or set ALLIANCE_DATABASE_URL).")
        }
        let quiet = Logger(label: "import", factory: { _ in SwiftLogNoOpLogHandler() })
        let reading = Progress(verb: "read")
        defer { reading.finish() }
        let contents = try cliErrors { try JSONFileStore.contents(of: from, logger: quiet, progress: reading.report) }
        reading.finish()
        let progress = Progress(verb: "imported", total: contents.recordCount)
        try cliErrors { try PostgresStore.importContents(contents, url: url, replace: replace, progress: progress.report) }
        progress.finish()
        print(
            "imported \(contents.summary) from \(from) (\(progress.rate(contents.recordCount)))"
        )
    }
}
