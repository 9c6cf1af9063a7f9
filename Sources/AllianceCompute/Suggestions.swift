import ArgumentParser
import Foundation

/// A command line that names no command of the tool (`alliance-compute tokn list`): the
/// message says which word is wrong and the nearest command, where ArgumentParser would only
/// call every word unexpected.
enum Suggestions {
    /// The message for the first word that is not a subcommand where one is expected; nil
    /// when every command word is known (ArgumentParser then parses as usual).
    static func unknownCommand(in arguments: [String], of command: any ParsableCommand.Type, path: String) -> String? {
        let subcommands = command.configuration.subcommands
        guard !subcommands.isEmpty, let word = arguments.first, !word.hasPrefix("-") else { return nil }
        if let known = subcommands.first(where: { $0._commandName == word }) {
            return unknownCommand(in: Array(arguments.dropFirst()), of: known, path: "\(path) \(word)")
        }
        let names = subcommands.map { $0._commandName }
        guard word != "help" else { return nil }
        var message = "Error: '\(word.prefix(64))' is not a command of \(path)."
        if let nearest = names.min(by: { distance(word, $0) < distance(word, $1) }),
            distance(word, nearest) <= max(2, nearest.count / 3)
        {
            message += " Did you mean '\(nearest)'?"
        }
        return message + "\nCommands: \(names.joined(separator: ", ")). See '\(path) --help'."
    }

    /// Levenshtein distance between two short words.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased())
        let b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension AllianceCompute {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let message = Suggestions.unknownCommand(in: arguments, of: Self.self, path: "alliance-compute") {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            main(try withConfigFile(arguments))
        } catch {
            exit(withError: error)
        }
    }
}
