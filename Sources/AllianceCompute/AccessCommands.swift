import ArgumentParser
import ComputeCore
import Foundation
import JSONFileStore
import PostgresStore

extension Role: ExpressibleByArgument {}

/// `alliance-compute token …`: the tokens clients send in `X-Auth-Token`.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API tokens.",
        discussion: """
            A token is printed once, when it is made; the store keeps only its SHA-256 (a data \
            directory's tokens/<id>.json, mode 0600, or the database's tokens table). Every worker \
            sees new and revoked tokens at once, without a restart. With --data-dir, run as root or \
            as the data directory's owner.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token and print it (standard output: the token alone).",
            discussion: """
                Examples:
                  alliance-compute token create --data-dir /var/lib/alliance-compute --project ops --user ada --role admin
                  alliance-compute token create --data-dir ./var/data --project web --user ci --expires 30d
                """)

        @OptionGroup var store: StoreOptions

        @Option(help: "The project the token acts in (letters, digits, '.', '_', '-').")
        var project: String

        @Option(help: "Who the token is for; servers record it as their user.")
        var user: String

        @Option(
            help:
                "admin: every project's servers and flavor changes; member: its project's servers; reader: looks, changes nothing."
        )
        var role: Role = .member

        @Option(
            help: ArgumentHelp(
                "When it stops working: a time (2027-01-31T00:00:00Z) or a span (90m, 12h, 30d).", valueName: "when"))
        var expires: String?

        func run() throws {
            let expiry = try expires.map(Self.parseExpiry)
            do {
                let (token, record) =
                    switch try store.location() {
                    case .files(let directory):
                        try TokenStore.create(dataDirectory: directory, project: project, user: user, role: role, expires: expiry)
                    case .database(let url):
                        try PostgresAccess.createToken(url: url, project: project, user: user, role: role, expires: expiry)
                    }
                FileHandle.standardError.write(
                    Data(
                        "token \(record.id): project \(record.project), user \(record.user), role \(record.role.rawValue), expires \(record.expires ?? "never")\n"
                            .utf8))
                print(token)
            } catch let error as ComputeError {
                throw CommandFailure(message: error.message)
            }
        }

        static func parseExpiry(_ text: String) throws -> Timestamp {
            if let instant = Timestamp(iso8601: text) { return instant }
            let units: [Character: Int64] = ["m": 60, "h": 3600, "d": 86_400]
            guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count > 0 else {
                throw ValidationError("--expires takes a time (2027-01-31T00:00:00Z) or a span (90m, 12h, 30d), not '\(text)'.")
            }
            let now = SystemClock().now()
            return Timestamp(microsecondsSinceEpoch: now.microsecondsSinceEpoch + count * unit * 1_000_000)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never the secrets).")

        @OptionGroup var store: StoreOptions

        func run() throws {
            let (records, problems) =
                switch try store.location() {
                case .files(let directory): try cliErrors { try TokenStore.list(dataDirectory: directory) }
                case .database(let url): (try cliErrors { try PostgresAccess.listTokens(url: url) }, [String]())
                }
            warn(problems)
            let now = SystemClock().now()
            let rows =
                [["ID", "PROJECT", "USER", "ROLE", "CREATED", "EXPIRES"]]
                + records.map { r in
                    [
                        r.id, r.project, r.user, r.role.rawValue, r.created,
                        (r.expires ?? "never") + (r.isExpired(at: now) ? " (expired)" : ""),
                    ]
                }
            printTable(rows)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id (the part before the dot).")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The token's id, as `token list` shows it.")
        var id: String

        func run() throws {
            let location = try store.location()
            let revoked =
                switch location {
                case .files(let directory): try cliErrors { try TokenStore.revoke(dataDirectory: directory, id: id) }
                case .database(let url): try cliErrors { try PostgresAccess.revokeToken(url: url, id: id) }
                }
            guard revoked else {
                let place = if case .files(let directory) = location { "\(directory)/tokens" } else { "the database" }
                FileHandle.standardError.write(Data("error: no token with id '\(id)' in \(place)\n".utf8))
                throw ExitCode.failure
            }
            print("revoked \(id)")
        }
    }
}

/// `alliance-compute quota …`: per-project limits over the worker's --quota-* defaults.
struct Quota: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set and show per-project quotas.",
        subcommands: [SetLimits.self, Show.self]
    )

    struct SetLimits: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Override a project's limits (-1: unlimited); unnamed ones keep their value.",
            discussion: """
                Example:
                  alliance-compute quota set --data-dir /var/lib/alliance-compute --project web --instances 50 --cores 100
                """)

        @OptionGroup var store: StoreOptions

        @Option(help: "The project.")
        var project: String

        @Option(parsing: .unconditional, help: "Servers.")
        var instances: Int?

        @Option(parsing: .unconditional, help: "vCPUs.")
        var cores: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("RAM.", valueName: "MiB"))
        var ram: Int?

        func run() throws {
            do {
                try Validation.principal(project, field: "project")  // not the default class's key
                let change = QuotaOverride(project: project, instances: instances, cores: cores, ram: ram)
                let merged =
                    switch try store.location() {
                    case .files(let directory): try QuotaFiles.set(change, dataDirectory: directory)
                    case .database(let url): try PostgresAccess.setQuota(url: url, change)
                    }
                print(Show.describe(merged))
            } catch let error as ComputeError {
                throw CommandFailure(message: error.message)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the projects' overrides.")

        @OptionGroup var store: StoreOptions

        func run() throws {
            var items: [QuotaOverride]
            var problems: [String] = []
            switch try store.location() {
            case .files(let directory):
                let found = try cliErrors { try QuotaFiles.overrides(dataDirectory: directory) }
                (items, problems) = (Array(found.items.values), found.problems)
            case .database(let url):
                items = try cliErrors { try PostgresAccess.quotaOverrides(url: url) }
            }
            warn(problems)
            if items.isEmpty { print("no overrides: every project has the worker's --quota-* defaults") }
            for item in items.sorted(by: { $0.project < $1.project }) { print(Self.describe(item)) }
        }

        static func describe(_ item: QuotaOverride) -> String {
            func value(_ v: Int?) -> String { v.map { $0 == -1 ? "unlimited" : String($0) } ?? "default" }
            let name = item.project == QuotaOverride.defaultClass ? "(the default quota class)" : item.project
            let others = (item.others ?? [:]).sorted { $0.key < $1.key }.map { ", \($0.key) \(value($0.value))" }.joined()
            return "\(name): instances \(value(item.instances)), cores \(value(item.cores)), ram \(value(item.ram))\(others)"
        }
    }
}

/// Runs `body`, turning a domain or database error (no data directory, a refused symlink, a
/// database that cannot be reached) into the command's error message and exit status.
func cliErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ComputeError {
        throw CommandFailure(message: error.message)
    } catch let error as DatabaseError {
        throw CommandFailure(message: error.description)
    } catch let error as IdentityError {
        switch error {
        case .badRequest(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m), .conflict(let m):
            throw CommandFailure(message: m)
        case .store(let error): throw CommandFailure(message: error.message)
        }
    }
}

/// A command that could not do its work (not a mistake in how it was called): the message
/// alone, without the usage text, and exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Files of the data directory the CLI could not read, on standard error.
func warn(_ problems: [String]) {
    for problem in problems { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
}
