import Foundation
import Testing

@testable import ComputeCore

/// Nova's `?name=` filter against the patterns a security review used to crash and stall the
/// worker (glibc's regexec), and the ones users really write.
@Suite struct NamePatternTests {
    @Test(arguments: [
        ("^web-", "web-1", true), ("^web-", "old-web-1", false), ("web", "old-web", true),
        ("db[0-9]+", "mydb12", true), ("db[0-9]+", "db-x", false), ("^(app|api)-[a-z]+$", "api-eu", true),
        ("名前", "naïve-名前-🚀", true), ("^.{3}$", "名前x", true),
    ])
    func simplePatternsKeepWorking(pattern: String, name: String, expected: Bool) throws {
        #expect(try NamePattern(pattern).matches(name) == expected)
    }

    @Test(arguments: [#"(|)(\1\1)*"#, #"(.*)(.*)(.*)\3\2\1z"#, #"(?<x>a)\k<x>"#, #"(a)\g{-1}"#])
    func backReferencesAreRefused(pattern: String) {
        #expect(
            throws: ComputeError.invalidInput(
                "The name filter '\(pattern)' uses a back-reference (such as \\1); back-references are not supported.")
        ) { try NamePattern(pattern) }
    }

    @Test func nestedCountedRepetitionIsRefusedWhileCompiling() {
        #expect(
            throws: ComputeError.invalidInput(
                "The name filter '((a{1,100}){1,100}){1,100}' is not a valid regular expression: regular expression is too large at offset 26."
            )
        ) { try NamePattern("((a{1,100}){1,100}){1,100}") }
    }

    @Test func deepNestingIsRefused() {
        let pattern = String(repeating: "(", count: 40) + "a" + String(repeating: ")", count: 40)
        #expect(
            throws: ComputeError.invalidInput(
                "The name filter '\(pattern.prefix(64))…' is not a valid regular expression: parentheses are too deeply nested at offset 33."
            )
        ) { try NamePattern(pattern) }
    }

    @Test func catastrophicBacktrackingStopsAtTheLimit() throws {
        let pattern = try NamePattern("(a+)+$")
        let name = String(repeating: "a", count: 250) + "!"
        #expect(
            throws: ComputeError.invalidInput(
                "The name filter '(a+)+$' is too complex: matching it against a server name exceeded the limit of 10000 steps. Use a simpler pattern."
            )
        ) { try pattern.matches(name) }
    }

    @Test(arguments: ["(", "a{2,1}", "[z-a]", String(repeating: "a", count: 256), "a\u{0}b"])
    func invalidPatternsAreInvalidInput(pattern: String) {
        #expect {
            try NamePattern(pattern)
        } throws: { error in
            guard case ComputeError.invalidInput(let message) = error else { return false }
            return message.hasPrefix("The name filter")
        }
    }

    @Test func anEvaluationGivesUpAfterItsBudget() throws {
        // Each name costs close to the per-name limit; enough of them exhaust the budget.
        let evaluation = NamePattern.Evaluation(try NamePattern("(a|aa)*$"))
        let name = String(repeating: "a", count: 14) + "!"  // about 0.2 ms a name, under the step limit
        #expect {
            for _ in 0..<1_000_000 { _ = try evaluation.matches(name) }
        } throws: { error in
            guard case ComputeError.invalidInput(let message) = error else { return false }
            return message.hasPrefix("The name filter '(a|aa)*$' took too long to evaluate over ")
        }
    }

    @Test func namesAreMatchedWithNoLockHeld() throws {
        let f = InventoryFixture()
        for index in 0..<3 { try f.create("s\(index)") }
        var probes = 0
        let page = try f.inventory.servers(matching: ServerFilter(projectID: "p1"), limit: 10, marker: nil) { server in
            // A write from another thread while a name is being matched: if the listing held
            // the inventory's locks here, the write could not finish.
            let done = DispatchSemaphore(value: 0)
            Thread {
                _ = try? f.create("written-while-matching-\(server.name)")
                done.signal()
            }.start()
            #expect(done.wait(timeout: .now() + 10) == .success, "a write waited for the name matching")
            probes += 1
            return server.name.hasPrefix("s")
        }
        #expect(page.map(\.name) == ["s2", "s1", "s0"])
        #expect(probes == 3)
    }
}
