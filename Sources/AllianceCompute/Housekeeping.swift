import ComputeCore
import Foundation
import Logging

extension Serve {
    /// Every 10 s, a thread of its own forgets the deleted servers past their time (and at once
    /// those a start-up found expired), off the request path.
    func forgetExpiredDeletedServers(_ inventory: Inventory, logger: Logger) {
        Thread.detachNewThread {
            while true {
                let forgotten = inventory.forgetExpiredDeletedServers()
                if forgotten > 0 { logger.info("forgot \(forgotten) deleted servers past their time") }
                Thread.sleep(forTimeInterval: 10)
            }
        }
    }
}
