import ArgumentParser
import ComputeCore
import InMemoryStore
import JSONFileStore
import Logging
import PostgresStore

/// `alliance-compute check`: verifies a store without changing it.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every record in a data directory or database, without changing anything.",
        discussion: """
            Reads every record as the worker does at start-up and reports what it would set aside or \
            repair: damaged or foreign files, writes that never finished, multi-record commits to roll \
            back, and broken rules across records (a name or an address used twice). It takes no lock \
            and changes nothing, so it is safe while the worker runs. A database is read in one \
            consistent snapshot (its constraints already keep names and addresses unique); what is \
            checked there is that every record reads, at this release's schema.

            On a terminal it shows how many records it has read and how fast; the summary says how \
            long it took.

            Exit status: 0 when everything is healthy, 1 when something was found, 2 when the store \
            cannot be read.

            Examples:
              sudo -u alliance-compute alliance-compute check --data-dir /var/lib/alliance-compute
              alliance-compute check --database service=alliance
            """
    )

    @OptionGroup(title: "Store")
    var store: StoreOptions

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
        switch try store.location() {
        case .files(let directory): try checkFiles(directory, networkConfigs, quiet)
        case .database(let url): try checkDatabase(url, networkConfigs)
        }
    }

    private func checkFiles(_ directory: String, _ networks: [NetworkConfig], _ logger: Logger) throws {
        let inspection: JSONFileStore.Inspection
        let progress = Progress(verb: "checked")
        do {
            inspection = try JSONFileStore.inspect(directory: directory, logger: logger, progress: progress.report)
        } catch {
            progress.finish()
            print("error: \(error)")
            throw ExitCode(2)
        }
        progress.finish()
        let warnings = InMemoryStore.loadWarnings(inspection.records, networks: networks, images: Image.defaults)
        let count = inspection.records.servers.count + inspection.records.flavors.count + inspection.damaged.count
        print(
            "\(directory): \(inspection.records.servers.count { $0.deleted == nil }) servers, \(inspection.records.flavors.count) flavors; read \(progress.rate(count))"
        )
        for file in inspection.damaged { print("damaged: \(file.path): \(file.reason)") }
        for path in inspection.unfinishedCommits { print("unfinished commit: \(path) (start-up rolls it back)") }
        for path in inspection.temporaryFiles { print("leftover temporary file: \(path) (start-up deletes it)") }
        for warning in warnings { print("inconsistent: \(warning)") }
        try conclude(problems: inspection.damaged.count + inspection.unfinishedCommits.count + warnings.count)
    }

    /// The database enforces names and addresses itself; what is left to verify is that every
    /// record reads, at this release's schema.
    private func checkDatabase(_ url: String, _ networks: [NetworkConfig]) throws {
        let contents: StoreContents
        let progress = Progress(verb: "checked")
        do {
            contents = try PostgresStore.contents(url: url, progress: progress.report)
        } catch {
            progress.finish()
            print("error: \(error)")
            throw ExitCode(2)
        }
        progress.finish()
        let records = LoadedRecords(servers: contents.servers, flavors: contents.flavors, isNew: false)
        let warnings = InMemoryStore.loadWarnings(records, networks: networks, images: Image.defaults)
        print(
            "database: \(contents.summary); read \(progress.rate(contents.recordCount))"
        )
        for warning in warnings { print("inconsistent: \(warning)") }
        try conclude(problems: warnings.count)
    }

    private func conclude(problems: Int) throws {
        if problems == 0 {
            print("ok: every record is readable and consistent")
        } else {
            print("\(problems) problem\(problems == 1 ? "" : "s") found")
            throw ExitCode.failure
        }
    }
}
