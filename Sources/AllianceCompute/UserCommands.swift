import ArgumentParser
import ComputeCore
import Foundation
import JSONFileStore
import Logging
import PostgresStore

/// `alliance-compute user …`: the users who sign in through the identity API
/// (`POST /identity/v3/auth/tokens`) with a password, as clouds.yaml files name them.
struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, change and delete users who sign in with a password.",
        discussion: """
            Users sign in at /identity/v3 (auth_url: https://HOST/identity/v3 in a clouds.yaml) with \
            their name, the domain Default and a password, and get tokens that expire \
            (--token-lifetime of serve). The store keeps only a PBKDF2-SHA256 hash of each password \
            (600,000 iterations, a random salt): in the data directory's users/<id>.json (mode 0600), \
            or the database's identity_users table. Changes take effect on every worker at once.
            """,
        subcommands: [Create.self, List.self, SetPassword.self, Delete.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a user with a role on a project (made too, if new).",
            discussion: """
                The password is read from standard input with --password-stdin; without it, one is \
                made (24 random characters) and printed once on standard output.

                Examples:
                  alliance-compute user create --data-dir ./var/data --project demo --name ada --role admin
                  printf '%s\\n' "$PASSWORD" | alliance-compute user create --project web --name ci --password-stdin
                """)

        @OptionGroup var store: StoreOptions

        @Option(help: "The project the user works in (letters, digits, '.', '_', '-'): its id and its name.")
        var project: String

        @Option(help: "The name the user signs in with.")
        var name: String

        @Option(
            help: "admin: every project and the identity API's administration; member: its project's servers; reader: looks only."
        )
        var role: Role = .member

        @Flag(help: "Read the password from standard input (one line).")
        var passwordStdin = false

        func run() throws {
            try Validation.principal(project, field: "project")
            let password = try passwordStdin ? readPassword() : nil
            let made = password ?? Self.generatedPassword()
            let user = try cliErrors {
                let identity = try openIdentity(store)
                if try identity.store.record(ProjectRecord.self, id: project) == nil {
                    _ = try identity.createProject(name: project, id: project)
                }
                return try identity.createUser(
                    name: name, password: made, defaultProject: project, roles: [project: role])
            }
            FileHandle.standardError.write(
                Data("user \(user.name) (id \(user.id)): \(role.rawValue) on project \(project)\n".utf8))
            if password == nil { print(made) }
        }

        static func generatedPassword() -> String {
            let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            var generator = SystemRandomNumberGenerator()
            return String((0..<24).map { _ in alphabet.randomElement(using: &generator)! })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users and their roles (never the passwords).")

        @OptionGroup var store: StoreOptions

        func run() throws {
            let users = try cliErrors { try openIdentity(store).store.all(UserRecord.self) }
            let rows =
                [["NAME", "ID", "ROLES", "ENABLED", "CREATED"]]
                + users.sorted { $0.name < $1.name }.map { u in
                    [
                        u.name, u.id,
                        u.roles.sorted { $0.key < $1.key }.map { "\($0.value.rawValue)@\($0.key)" }.joined(separator: ","),
                        u.enabled ? "yes" : "no", u.created,
                    ]
                }
            printTable(rows)
        }
    }

    struct SetPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Set a user's password; the tokens it had stop working.",
            discussion: "Reads the new password from standard input with --password-stdin; otherwise makes one and prints it.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The user's name.")
        var name: String

        @Flag(help: "Read the password from standard input (one line).")
        var passwordStdin = false

        func run() throws {
            let password = try passwordStdin ? readPassword() : nil
            let made = password ?? Create.generatedPassword()
            try cliErrors {
                let identity = try openIdentity(store)
                let user = try findUser(identity, name)
                _ = try identity.updateUser(id: user.id, Identity.UserChange(password: made))
            }
            FileHandle.standardError.write(Data("password of \(name) set\n".utf8))
            if password == nil { print(made) }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a user with their application credentials; their tokens stop working.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The user's name.")
        var name: String

        func run() throws {
            try cliErrors {
                let identity = try openIdentity(store)
                try identity.deleteUser(id: try findUser(identity, name).id)
            }
            print("deleted \(name)")
        }
    }
}

/// The identity rules over the store the options name (the CLI's own connection).
func openIdentity(_ options: StoreOptions) throws -> Identity {
    switch try options.location() {
    case .files(let directory):
        return Identity(store: try IdentityFiles(dataDirectory: directory, report: { warn($0) }))
    case .database(let url):
        let logger = Logger(label: "alliance-compute")
        return Identity(store: try PostgresStore(url: url, networks: [], logger: logger).identity())
    }
}

private func findUser(_ identity: Identity, _ name: String) throws -> UserRecord {
    guard let user = try identity.store.all(UserRecord.self).first(where: { $0.name == name }) else {
        throw CommandFailure(message: "no user named '\(name)'")
    }
    return user
}

/// One line of standard input, without its line break; empty is refused.
private func readPassword() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("--password-stdin: standard input held no password.")
    }
    return line
}

func printTable(_ rows: [[String]]) {
    let columns = rows.first?.count ?? 0
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        let line = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        print(String(line.reversed().drop(while: { $0 == " " }).reversed()))
    }
}
