import ComputeCore
import Foundation
import Logging

extension Serve {
    /// A thread of its own forgets the deleted servers past their time (at once those a start-up
    /// found expired), off the request path: every 10 s, or as often as they are kept when that
    /// is shorter.
    func forgetExpiredDeletedServers(_ inventory: Inventory, logger: Logger) {
        Thread.detachNewThread {
            while true {
                let forgotten = inventory.forgetExpiredDeletedServers()
                if forgotten > 0 { logger.info("forgot \(forgotten) deleted servers past their time") }
                let kept = inventory.currentSettings.keepDeletedServersSeconds
                Thread.sleep(forTimeInterval: Double(min(10, max(1, kept))))
            }
        }
    }
}
