import ComputeCore
import Logging

extension Serve {
    /// Forgets the deleted servers past their time, off the request path (on the thread that
    /// waits for signals); returns the seconds until the next look: 10, or as long as deleted
    /// servers are kept when that is shorter.
    func forgetExpiredDeletedServers(_ inventory: Inventory, logger: Logger) -> Double {
        let forgotten = inventory.forgetExpiredDeletedServers()
        if forgotten > 0 { logger.info("forgot \(forgotten) deleted servers past their time") }
        return Double(min(10, max(1, inventory.currentSettings.keepDeletedServersSeconds)))
    }
}
