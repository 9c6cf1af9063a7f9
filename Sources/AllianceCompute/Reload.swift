import ArgumentParser
import ComputeCore
import FastCGIBridge
import Logging

extension Serve {
    /// The settings a reload applies to a running worker; every other one needs a restart.
    static let reloadableSettings: Set<String> = [
        "image", "quota-instances", "quota-cores", "quota-ram", "keep-deleted-servers", "log-level",
    ]

    /// SIGHUP (`systemctl reload alliance-compute`): this worker's command line read again with
    /// its configuration file, as at start-up. What may change while it runs (images, default
    /// quotas, how long deleted servers are kept, log level) is applied to `inventory` and `logLevel`; each other setting that
    /// changed is logged as needing a restart. A file that does not parse or check changes
    /// nothing. Returns the configuration now in effect, for the next reload to compare with.
    func reloaded(into inventory: Inventory, logLevel control: LogLevelControl, logger: Logger) -> Serve {
        let reread: Serve
        let images: [Image]
        do {
            let arguments = try AllianceCompute.withConfigFile(Array(CommandLine.arguments.dropFirst()))
            reread = try Serve.parse(Array(arguments.dropFirst()))
            try reread.validate()
            images = try Self.parseImages(reread.images)
        } catch {
            logger.error("reload refused, nothing changed: \(Serve.message(for: error))")
            return self
        }
        let before = Dictionary(uniqueKeysWithValues: effectiveSettings)
        let after = reread.effectiveSettings
        let changed = after.filter { key, value in before[key] != value }
        let needRestart = changed.filter { !Self.reloadableSettings.contains($0.0) }
        for (key, value) in needRestart {
            logger.warning(
                "reload: \(key) changed (\(before[key] ?? "unset") → \(value)): it takes effect only after a restart (systemctl restart alliance-compute)"
            )
        }
        var applied = self
        applied.images = reread.images
        (applied.quotaInstances, applied.quotaCores, applied.quotaRam) =
            (reread.quotaInstances, reread.quotaCores, reread.quotaRam)
        applied.keepDeletedServers = reread.keepDeletedServers
        applied.logLevel = reread.logLevel
        inventory.reconfigure(applied.inventorySettings(images: images))
        let changes = changed.filter { Self.reloadableSettings.contains($0.0) }.map { "\($0.0) = \($0.1)" }
        let source = config ?? "the command line (serve was started without --config)"
        let outcome = changes.isEmpty ? "nothing to apply" : "applied \(changes.joined(separator: ", "))"
        // Written under the more verbose of the two levels, so it shows whichever one the
        // operator watches with.
        control.level = min(logLevel.level, applied.logLevel.level)
        logger.notice("reload: \(source) read again; \(outcome)")
        control.level = applied.logLevel.level
        return applied
    }
}
