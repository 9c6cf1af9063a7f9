import ArgumentParser
import ComputeAPI
import ComputeCore
import CoreMetrics
import FastCGI
import FastCGIBridge
import Foundation
import InMemoryStore
import JSONFileStore
import Logging
import PostgresStore
import Prometheus

/// glibc: returns free heap memory to the system (not in Swift's Glibc module).
@_silgen_name("malloc_trim") func mallocTrim(_ pad: Int) -> Int32

/// `alliance-compute serve`: the worker.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the API over FastCGI until SIGTERM or SIGINT; SIGHUP reloads the configuration.",
        discussion: """
            Listening: by default the worker creates the unix socket given by --socket (mode 0660, \
            never world-writable; a stale socket file is replaced, a live one is an error). With \
            --bind it uses a socket it inherits instead: fd0 (spawn-fcgi, systemd StandardInput=socket), \
            systemd (LISTEN_FDS, fd 3) or auto (whichever is there); or tcp:ADDRESS:PORT, a TCP port of \
            its own for nginx on other hosts (tcp:[::]:9000 for IPv6). FastCGI trusts what it is sent \
            (the client's address, access to /healthz), so a socket other hosts can reach serves only \
            the addresses --allow-from names, and the worker refuses to start without it.

            Data: by default every server and flavor is a JSON file under --data-dir, written durably \
            before the response is sent; only one worker may use a data directory at a time (a second \
            one exits with an error). With --database (or ALLIANCE_DATABASE_URL) the inventory, tokens \
            and quotas are in PostgreSQL instead, and any number of workers, on any number of hosts, \
            may share it; its schema must be this release's (`alliance-compute db upgrade`). A new \
            store starts with the flavors m1.tiny … m1.xlarge.

            Stopping: on SIGTERM or SIGINT the worker stops accepting, lets requests in progress finish \
            (at most --drain-timeout seconds) and exits 0. An inherited socket keeps working for the \
            next worker, so a restart under systemd loses no request.

            Reloading: on SIGHUP (systemctl reload) the worker reads --config's file and its command \
            line again and applies, without a restart and without failing a request, what may change \
            while it runs: images, the default quotas and the log level. It logs what changed, and names \
            each other changed setting as needing a restart. A file with an error changes nothing.

            Access: every request but version discovery (/, /v2.1) and /healthz needs a token in \
            X-Auth-Token, made with `alliance-compute token create`. Members reach their project's \
            servers; admins reach every project's and change flavors. Quotas are opt-in: with \
            --quota-instances, --quota-cores or --quota-ram (Nova's are 10, 20 and 51200) a project \
            may hold at most that many servers, vCPUs or MiB unless `alliance-compute quota set` says \
            otherwise for it; without them, only `quota set` limits a project. Token and quota \
            changes take effect at once.

            Logs go to standard error: one line per request (nginx's request id, the token's user@project, method, \
            target, status, duration) and whatever needs an operator's attention; --log-format json writes \
            each as a JSON object. GET /metrics (this host only, like /healthz) is Prometheus's text format: \
            requests by route, method and status, latencies, store commits and failures, token failures, counts.

            Examples:
              alliance-compute serve --data-dir ./var/data --socket ./var/run/fcgi.sock
              alliance-compute serve --bind fd0 --data-dir /var/lib/alliance-compute --threads 8
              alliance-compute serve --network private=10.0.0.0/24 --network public=192.0.2.0/24
              ALLIANCE_DATABASE_URL=service=alliance alliance-compute serve --bind systemd
              alliance-compute serve --database service=alliance --bind tcp:10.0.0.11:9000 --allow-from 10.0.0.2
            """
    )

    @OptionGroup(title: "Store")
    var store: StoreOptions

    @Option(
        help: ArgumentHelp(
            "Create and listen on this unix socket (default /run/alliance-compute/fcgi.sock unless --bind is given).",
            valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Group to own the created socket, e.g. www-data, so nginx can connect.", valueName: "group"))
    var socketGroup: String?

    @Option(
        help: ArgumentHelp(
            "Use an inherited listening socket (fd0, systemd, auto), or listen on a TCP port (tcp:ADDRESS:PORT) for nginx on other hosts.",
            valueName: "fd0|systemd|auto|tcp:address:port"))
    var bind: Binding?

    @Option(
        name: .customLong("allow-from"),
        help: ArgumentHelp(
            "An address or range nginx connects from over TCP (10.0.0.2, 10.0.0.0/24, fd00::/8); repeat for more. Others are refused; required when the TCP socket is not loopback.",
            valueName: "address[/bits]"))
    var allowFrom: [String] = []

    @Option(
        help:
            "Threads serving requests at once; fsync-bound writes are why more than the core count helps. A change (POST, PUT, PATCH, DELETE) hands its place to a spare thread while it runs, so changes waiting on the disk never leave reads without a thread; at most twice this many changes run at once (on PostgreSQL a host opens up to 3 x N connections)."
    )
    var threads = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)

    @Option(
        name: .customLong("network"),
        help: ArgumentHelp(
            "A network servers get IPv4 addresses from, NAME=CIDR (first host .2), with ',id=ID' for the id OpenStack clients see (default: the name); repeat for more. The first is the default.",
            valueName: "name=cidr[,id=id]"))
    var networks: [String] = ["private=10.0.0.0/24,id=\(NetworkConfig.defaultPrivateID)"]

    @Option(
        parsing: .unconditional,
        help:
            "Default quota: servers per project (-1, the default: unlimited; Nova's is 10). `alliance-compute quota set` overrides it per project."
    )
    var quotaInstances = QuotaLimits.unlimited.instances

    @Option(parsing: .unconditional, help: "Default quota: vCPUs per project (-1, the default: unlimited; Nova's is 20).")
    var quotaCores = QuotaLimits.unlimited.cores

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Default quota: RAM per project (-1, the default: unlimited; Nova's is 51200).", valueName: "MiB"))
    var quotaRam = QuotaLimits.unlimited.ram

    var quotaDefaults: QuotaLimits { QuotaLimits(instances: quotaInstances, cores: quotaCores, ram: quotaRam) }

    /// What `Inventory` takes of these options (at start-up, and again on a reload).
    func inventorySettings(images: [Image]) -> Inventory.Settings {
        .init(images: images, quotaDefaults: quotaDefaults, keepDeletedServersSeconds: keepDeletedServers)
    }

    @Option(
        name: .customLong("image"),
        help: ArgumentHelp(
            "An image servers may be created from, NAME=ID; repeat for more. Giving any replaces the defaults (\(Image.defaults.map { "\($0.name)=\($0.id)" }.joined(separator: ", "))).",
            valueName: "name=id"))
    var images: [String] = []

    @Option(
        help: ArgumentHelp(
            "Largest request body accepted, in bytes (keep nginx's client_max_body_size the same).", valueName: "bytes"))
    var maxBodySize = 64 * 1024

    @Option(
        help: ArgumentHelp(
            "Seconds SIGTERM waits for requests in progress (keep it under systemd's TimeoutStopSec).", valueName: "seconds"))
    var drainTimeout = 10.0

    @Option(
        help: ArgumentHelp(
            "Requests at least this slow are logged as warnings and counted in /healthz.", valueName: "milliseconds"))
    var slowRequestMs = 1000

    @Option(
        help: ArgumentHelp(
            "How long a token issued by the identity API (POST /identity/v3/auth/tokens) lasts, from 60 s to 7 days.",
            valueName: "seconds"))
    var tokenLifetime = 3600

    @Option(
        help: ArgumentHelp(
            "How long a deleted server is still listed, as DELETED, to clients polling with changes-since (and to admins with deleted=true); then it is forgotten. 0: not kept.",
            valueName: "seconds"))
    var keepDeletedServers = 86_400

    @Option(
        help: ArgumentHelp(
            "Seconds one read or write on a FastCGI connection may wait; a client that stalls is dropped (nginx sends whole requests at once).",
            valueName: "seconds"))
    var ioTimeout = 10.0

    @Option(help: ArgumentHelp("Least severe log level written.", valueName: "trace|debug|info|notice|warning|error|critical"))
    var logLevel: LogLevel = .info

    @Option(
        help: ArgumentHelp(
            "A TOML file of these options (keys without dashes: threads = 8, network = [\"private=10.0.0.0/24\"]); flags given here override it. The installed unit gives /etc/alliance-compute/alliance-compute.toml; without --config no file is read.",
            valueName: "file"))
    var config: String?

    @Option(
        help: ArgumentHelp(
            "text: one line a person reads; json: one JSON object per record (request_id, user, project, method, route, status, duration_ms, message), for journald → Loki or ELK.",
            valueName: "text|json"))
    var logFormat: LogFormat = .text

    func validate() throws {
        if socket != nil && bind != nil { throw ValidationError("Give either --socket or --bind, not both.") }
        let allowed = try allowedPeers()
        if case .tcp(let host, _) = bind, allowed.isEmpty,
            !["127.0.0.0/8", "::1"].compactMap({ AddressRange($0) }).contains(where: {
                $0.contains(AddressRange.bytes(of: host) ?? [])
            })
        {
            throw ValidationError(
                "--bind \(bind!) is reachable from other hosts: give --allow-from with the addresses of the nginx hosts (FastCGI trusts what it is sent, so no one else may connect)."
            )
        }
        if bind == nil, !allowed.isEmpty {
            throw ValidationError(
                "--allow-from is for TCP sockets (--bind tcp:… or systemd); a unix socket's file mode decides who connects.")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be from 1 to 256.") }
        guard maxBodySize >= 1024 else { throw ValidationError("--max-body-size must be at least 1024 bytes.") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative.") }
        guard slowRequestMs >= 1 else { throw ValidationError("--slow-request-ms must be at least 1.") }
        guard (60...604_800).contains(tokenLifetime) else {
            throw ValidationError("--token-lifetime must be from 60 to 604800 seconds.")
        }
        guard (0...31_622_400).contains(keepDeletedServers) else {
            throw ValidationError("--keep-deleted-servers must be from 0 to 31622400 seconds (366 days).")
        }
        guard ioTimeout >= 0.1 else { throw ValidationError("--io-timeout must be at least 0.1 seconds.") }
        _ = try networkConfigs()
        _ = try Self.parseImages(images)
        guard quotaInstances >= -1, quotaCores >= -1, quotaRam >= -1 else {
            throw ValidationError("--quota-* take -1 (unlimited) or more.")
        }
    }

    /// `--allow-from`'s ranges.
    func allowedPeers() throws -> [AddressRange] {
        try allowFrom.map { text in
            guard let range = AddressRange(text) else {
                throw ValidationError(
                    "--allow-from expects ADDRESS or ADDRESS/BITS (10.0.0.2, 10.0.0.0/24, fd00::/8), got '\(text)'.")
            }
            return range
        }
    }

    func networkConfigs() throws -> [NetworkConfig] {
        try Self.parseNetworks(networks)
    }

    /// `NAME=CIDR[,id=ID]` options as networks (shared with `check`).
    static func parseNetworks(_ networks: [String]) throws -> [NetworkConfig] {
        var configs: [NetworkConfig] = []
        for item in networks {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--network expects NAME=CIDR[,id=ID], got '\(item)'.") }
            let settings = parts[1].split(separator: ",", omittingEmptySubsequences: false)
            var id: String? = nil
            for setting in settings.dropFirst() {
                guard setting.hasPrefix("id="), id == nil else {
                    throw ValidationError("--network expects NAME=CIDR[,id=ID], got '\(item)'.")
                }
                id = String(setting.dropFirst(3))
            }
            do {
                configs.append(try NetworkConfig(name: String(parts[0]), cidr: String(settings[0]), id: id))
            } catch {
                throw ValidationError(error.message)
            }
        }
        guard Set(configs.map(\.name)).count == configs.count, Set(configs.map(\.id)).count == configs.count else {
            throw ValidationError("--network names and ids must be unique.")
        }
        return configs
    }

    /// `NAME=ID` options as the image catalog; none given means the defaults.
    static func parseImages(_ images: [String]) throws -> [Image] {
        guard !images.isEmpty else { return Image.defaults }
        var catalog: [Image] = []
        for item in images {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--image expects NAME=ID, got '\(item)'.") }
            do {
                catalog.append(try Image(id: String(parts[1]), name: String(parts[0])))
            } catch {
                throw ValidationError(error.message)
            }
        }
        guard Set(catalog.map(\.name)).count == catalog.count, Set(catalog.map(\.id)).count == catalog.count else {
            throw ValidationError("--image names and ids must be unique.")
        }
        return catalog
    }

    func run() throws {
        // Before anything starts a thread: only the signal-waiting thread may get SIGTERM,
        // SIGINT or SIGHUP.
        FastCGIServer.blockControlSignals()
        let (level, format) = (LogLevelControl(logLevel.level), logFormat)
        LoggingSystem.bootstrap { _ in LineLogHandler(level: level, format: format) }
        let logger = Logger(label: "alliance-compute")
        // Metrics through swift-metrics, kept in a Prometheus registry that GET /metrics shows.
        let metrics = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: metrics)
        // Request and commit latencies of this service: 0.5 ms to 5 s.
        factory.defaultDurationHistogramBuckets = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].map {
            .microseconds(Int64($0 * 1000))
        }
        MetricsSystem.bootstrap(factory)

        let startedAt = SystemClock().now()
        // The socket first: a worker that cannot listen must not touch the data directory.
        let listener: ListeningSocket
        do {
            switch bind {
            case .fd0: listener = try .standardInput()
            case .systemd: listener = try .systemd()
            case .auto: listener = try .automatic()
            case .tcp(let host, let port): listener = try .tcp(host: host, port: port)
            case nil: listener = try .unix(path: socket ?? "/run/alliance-compute/fcgi.sock", group: socketGroup)
            }
            // An inherited socket too (systemd's ListenStream=ADDRESS:PORT).
            if listener.isOpenToNetwork && allowFrom.isEmpty {
                throw ListenError(
                    "\(listener.description) is reachable from other hosts: give --allow-from with the addresses of the nginx hosts"
                )
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        let service: ComputeService
        do {
            service = try makeService(logger: logger, startedAt: startedAt, metrics: { metrics.emitToBuffer() })
        } catch {
            logger.critical("\(error)")
            listener.removeCreatedFile()
            throw ExitCode.failure
        }

        let adapter = FastCGIAdapter(service: service, logger: logger, logFormat: logFormat)
        do {
            let server = try FastCGIServer(
                listener: listener,
                configuration: .init(
                    threads: threads, maxBodyBytes: maxBodySize, drainTimeoutSeconds: drainTimeout,
                    ioTimeoutSeconds: ioTimeout, allowedPeers: try allowedPeers()),
                logger: logger, handler: adapter.handle)
            var running = self
            let signal = try server.run(
                reload: { running = running.reloaded(into: service.inventory, logLevel: level, logger: logger) },
                housekeeping: { forgetExpiredDeletedServers(service.inventory, logger: logger) })
            logger.info("stopped after \(signal)")
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}

extension Serve {
    /// The composition root: the store the options name, the rules over it, the API over them.
    /// Seeds the default flavors into a new store; logs what was found.
    func makeService(
        logger: Logger, startedAt: Timestamp, metrics: (@Sendable () -> [UInt8])? = nil
    ) throws -> ComputeService {
        let networks = try networkConfigs()
        let images = try Self.parseImages(images)
        let report: @Sendable ([String]) -> Void = { problems in for problem in problems { logger.warning("\(problem)") } }
        let inventoryStore: any InventoryStore
        let identityStore: any IdentityStore
        let quotas: any QuotaSource
        let isNew: Bool
        let markInitialized: () throws -> Void
        let described: String
        switch try self.store.location() {
        case .files(let directory):
            // The data directory's records, held and indexed in memory. The loaded records live
            // only until the indexes are built from them.
            let (files, records) = try JSONFileStore.open(directory: directory, logger: logger)
            let indexed = InMemoryStore(records: records, networks: networks, images: images, persistence: files)
            for warning in indexed.loadWarnings { logger.warning("\(warning)") }
            (inventoryStore, isNew) = (indexed, records.isNew)
            identityStore = try IdentityFiles(dataDirectory: directory, report: report)
            quotas = QuotaFiles(dataDirectory: directory, report: report)
            markInitialized = { try files.markInitialized(now: SystemClock().now()) }
            described = "data directory \(directory) (\(files.damaged.count) damaged files)"
        case .database(let url):
            let database = try PostgresStore(url: url, networks: networks, logger: logger)
            (inventoryStore, isNew) = (database, try database.isNew())
            (identityStore, quotas) = (database.identity(), database.access())
            markInitialized = { try database.markInitialized(now: SystemClock().now()) }
            described = "PostgreSQL database"
        }
        // Loading freed most of what it allocated (the records went with the scope above, once
        // the indexes were built); hand those pages back to the system. Trimmed while the
        // records were still held, the worker kept 34 MB more at 100k servers (187 vs 153 MB).
        _ = mallocTrim(0)
        let inventory = Inventory(
            store: inventoryStore, networks: networks, settings: inventorySettings(images: images), quotas: quotas)
        if isNew {
            try inventory.seedDefaultFlavors()
            try markInitialized()
        }
        let identity = Identity(
            store: identityStore, settings: .init(tokenLifetimeSeconds: tokenLifetime), report: { logger.warning("\($0)") })
        let counts = try inventory.counts()
        let elapsed = Double(SystemClock().now().microsecondsSinceEpoch - startedAt.microsecondsSinceEpoch) / 1e6
        logger.info(
            "\(described): \(counts.servers) servers, \(counts.flavors) flavors; ready in \(String(format: "%.2f", elapsed)) s")
        return ComputeService(
            inventory: inventory,
            configuration: .init(
                maxBodyBytes: maxBodySize, version: AllianceCompute.version, authenticator: identity, identity: identity,
                slowRequestMilliseconds: slowRequestMs, metricsExposition: metrics),
            logger: logger, startedAt: startedAt)
    }
}

extension LogFormat: ExpressibleByArgument {}

extension Serve {
    /// Every option's value as `config check` prints it: TOML, as the file would say it.
    var effectiveSettings: [(String, String)] {
        func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        var settings: [(String, String)] = []
        switch try? store.location() {
        case .files(let directory): settings.append(("data-dir", quoted(directory)))
        case .database: settings.append(("database", quoted("(set; not shown: it may hold a password)")))
        case nil: break
        }
        if let socket { settings.append(("socket", quoted(socket))) }
        if let socketGroup { settings.append(("socket-group", quoted(socketGroup))) }
        if let bind { settings.append(("bind", quoted(bind.description))) }
        if !allowFrom.isEmpty { settings.append(("allow-from", list(allowFrom))) }
        settings += [
            ("threads", "\(threads)"), ("network", list(networks)),
            ("image", list(images.isEmpty ? Image.defaults.map { "\($0.name)=\($0.id)" } : images)),
            ("quota-instances", "\(quotaInstances)"), ("quota-cores", "\(quotaCores)"), ("quota-ram", "\(quotaRam)"),
            ("max-body-size", "\(maxBodySize)"), ("drain-timeout", "\(drainTimeout)"),
            ("slow-request-ms", "\(slowRequestMs)"), ("token-lifetime", "\(tokenLifetime)"),
            ("keep-deleted-servers", "\(keepDeletedServers)"), ("io-timeout", "\(ioTimeout)"),
            ("log-level", quoted(logLevel.rawValue)), ("log-format", quoted(logFormat.rawValue)),
        ]
        return settings
    }
}

/// `--log-level`: swift-log's levels, by their names.
enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}
