import ArgumentParser
import Foundation
import TOMLKit

/// `/etc/alliance-compute/alliance-compute.toml`: what `serve` takes as flags, kept in one file
/// the operator edits (`deploy/install` puts a commented example there and the unit runs
/// `serve --config` with it). `serve` reads a file only when `--config` names one, so a local
/// run or a test on a machine where the service is installed never picks up its settings.
///
/// Each key is a `serve` option without its dashes (`threads = 8`, `network = ["private=…"]`,
/// `quota-instances = 10`, `log-format = "json"`); the file becomes arguments before the
/// command line's, so one parser checks both with the same rules and messages, and a flag
/// given on the command line replaces the file's value of that option (all of a repeated
/// one's). A key `serve` does not know is an error that names the file, not a silent typo.
struct ConfigFile {
    static let defaultPath = "/etc/alliance-compute/alliance-compute.toml"

    let path: String
    /// The file's settings as `serve` arguments, in the file's key order.
    let arguments: [(option: String, values: [String])]

    /// The file at `path` (nil: none); nil also when `path` is the default and there is none
    /// (any other named file must exist).
    static func load(_ path: String?) throws -> ConfigFile? {
        guard let path else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            guard path == defaultPath, !FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure(message: "\(path): cannot read the configuration file.")
            }
            return nil
        }
        let settings: [String: Setting]
        do {
            settings = try TOMLDecoder().decode([String: Setting].self, from: text)
        } catch let error as TOMLParseError {
            throw CommandFailure(
                message: "\(path):\(error.source.begin.line):\(error.source.begin.column): \(error.description)")
        } catch {
            throw CommandFailure(message: "\(path): \(Self.describe(error))")
        }
        var arguments: [(option: String, values: [String])] = []
        for (key, setting) in settings.sorted(by: { $0.key < $1.key }) {
            switch setting {
            case .text(let value): arguments.append(("--\(key)", [value]))
            case .integer(let value): arguments.append(("--\(key)", [String(value)]))
            case .number(let value): arguments.append(("--\(key)", [String(value)]))
            case .list(let values): arguments.append(("--\(key)", values))
            case .flag(true): arguments.append(("--\(key)", []))
            case .flag(false): continue
            }
        }
        return ConfigFile(path: path, arguments: arguments)
    }

    /// `serve`'s arguments: the file's, then the command line's; an option on the command line
    /// drops the file's values of it.
    func merged(with commandLine: [String]) -> [String] {
        let given = Set(commandLine.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=")[0]) })
        var arguments: [String] = []
        for (option, values) in self.arguments where !given.contains(option) {
            if values.isEmpty { arguments.append(option) }
            for value in values { arguments += [option, value] }
        }
        return arguments + commandLine
    }

    /// A TOML value a setting may have.
    enum Setting: Decodable {
        case text(String)
        case integer(Int)
        case number(Double)
        case flag(Bool)
        case list([String])

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let flag = try? value.decode(Bool.self) {
                self = .flag(flag)
            } else if let integer = try? value.decode(Int.self) {
                self = .integer(integer)
            } else if let number = try? value.decode(Double.self) {
                self = .number(number)
            } else if let text = try? value.decode(String.self) {
                self = .text(text)
            } else if let list = try? value.decode([String].self) {
                self = .list(list)
            } else {
                throw DecodingError.dataCorruptedError(
                    in: value, debugDescription: "a setting is a string, a number, true/false or a list of strings")
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let key = context.codingPath.first?.stringValue
            return (key.map { "'\($0)': " } ?? "") + context.debugDescription
        default: return "\(error)"
        }
    }
}

extension AllianceCompute {
    /// `serve` with the configuration file `--config FILE` names ahead of the command line's
    /// arguments; other commands as given.
    static func withConfigFile(_ arguments: [String]) throws -> [String] {
        guard arguments.first == "serve", !arguments.contains("--help"), !arguments.contains("-h") else {
            return arguments
        }
        let rest = Array(arguments.dropFirst())
        guard let file = try ConfigFile.load(ConfigFile.named(in: rest)) else { return arguments }
        return ["serve"] + file.merged(with: rest)
    }
}

extension ConfigFile {
    /// The file `--config FILE` (or `--config=FILE`) names in `arguments`.
    static func named(in arguments: [String]) throws -> String? {
        guard let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else {
            return nil
        }
        if arguments[index] != "--config" { return String(arguments[index].dropFirst("--config=".count)) }
        guard index + 1 < arguments.count else { throw CommandFailure(message: "--config needs a file.") }
        return arguments[index + 1]
    }
}

/// `alliance-compute config check`: reads the configuration file as `serve` would, checks every
/// setting with `serve`'s own rules, and prints the effective configuration (file, flags and
/// defaults together).
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration file and show the effective configuration.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration file (and any serve flags after it) and print the effective configuration.",
            discussion: """
                Examples:
                  alliance-compute config check
                  alliance-compute config check --config ./alliance-compute.toml --threads 8
                """)

        @Argument(
            parsing: .allUnrecognized,
            help: ArgumentHelp("serve's flags, as the unit gives them (they override the file).", valueName: "serve flags"))
        var flags: [String] = []

        func run() throws {
            // `config check` looks at the installed file unless told otherwise.
            let file = try ConfigFile.load(ConfigFile.named(in: flags) ?? ConfigFile.defaultPath)
            let arguments = file?.merged(with: flags) ?? flags
            let serve: Serve
            do {
                serve = try Serve.parse(arguments)
                try serve.validate()
                _ = try serve.networkConfigs()
                _ = try Serve.parseImages(serve.images)
            } catch {
                let place = file.map { "\($0.path) (with the flags given)" } ?? "the flags given"
                throw CommandFailure(message: "\(place): \(Serve.message(for: error))")
            }
            print(
                "# effective configuration: \(file.map { "from \($0.path)" } ?? "no configuration file (\(ConfigFile.defaultPath) absent)"), flags and defaults"
            )
            for (key, value) in serve.effectiveSettings { print("\(key) = \(value)") }
        }
    }
}
