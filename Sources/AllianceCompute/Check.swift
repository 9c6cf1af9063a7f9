import ArgumentParser
import ComputeCore
import InMemoryStore
import JSONFileStore
import Logging

/// `alliance-compute check`: verifies a data directory without changing it.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every record in a data directory, without changing anything.",
        discussion: """
            Reads every record as the worker does at start-up and reports what it would set aside or \
            repair: damaged or foreign files, writes that never finished, multi-record commits to roll \
            back, and broken rules across records (a name or an address used twice). It takes no lock \
            and changes nothing, so it is safe while the worker runs.

            Exit status: 0 when everything is healthy, 1 when something was found, 2 when the directory \
            cannot be read.

            Example:
              sudo -u alliance-compute alliance-compute check --data-dir /var/lib/alliance-compute
            """
    )

    @Option(help: ArgumentHelp("The data directory to verify.", valueName: "dir"))
    var dataDir = "/var/lib/alliance-compute"

    @Option(
        name: .customLong("network"),
        help: ArgumentHelp(
            "The networks the worker is configured with (as for serve), to check addresses.", valueName: "name=cidr"))
    var networks: [String] = ["private=10.0.0.0/24"]

    func run() throws {
        let networkConfigs: [NetworkConfig]
        do {
            networkConfigs = try Serve.parseNetworks(networks)
        } catch {
            print("error: \(error)")
            throw ExitCode.validationFailure
        }
        let quiet = Logger(label: "check", factory: { _ in SwiftLogNoOpLogHandler() })
        let inspection: JSONFileStore.Inspection
        do {
            inspection = try JSONFileStore.inspect(directory: dataDir, logger: quiet)
        } catch {
            print("error: \(error)")
            throw ExitCode(2)
        }
        let warnings = InMemoryStore.loadWarnings(inspection.records, networks: networkConfigs, images: Image.defaults)
        print("\(dataDir): \(inspection.records.servers.count) servers, \(inspection.records.flavors.count) flavors")
        for file in inspection.damaged { print("damaged: \(file.path): \(file.reason)") }
        for path in inspection.unfinishedCommits { print("unfinished commit: \(path) (start-up rolls it back)") }
        for path in inspection.temporaryFiles { print("leftover temporary file: \(path) (start-up deletes it)") }
        for warning in warnings { print("inconsistent: \(warning)") }
        let problems = inspection.damaged.count + inspection.unfinishedCommits.count + warnings.count
        if problems == 0 {
            print("ok: every record is readable and consistent")
        } else {
            print("\(problems) problem\(problems == 1 ? "" : "s") found")
            throw ExitCode.failure
        }
    }
}
