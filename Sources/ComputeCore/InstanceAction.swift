/// One of Nova's instance actions: a change made to a server (`create`, `stop`, `start`,
/// `reboot`, `rebuild`), by whom and under which request. A server keeps its most recent
/// `maxKept` in its own record, so recording one costs no write of its own.
public struct InstanceAction: Sendable, Equatable {
    /// Nova's action name.
    public var action: String
    /// The `x-openstack-request-id` of the request that made it.
    public var requestID: String
    public var userID: String
    public var projectID: String
    public var started: Timestamp

    public static let maxKept = 50

    public init(action: String, requestID: String, userID: String, projectID: String, started: Timestamp) {
        self.action = action
        self.requestID = requestID
        self.userID = userID
        self.projectID = projectID
        self.started = started
    }

    /// The event Nova's compute service records for the action (all are over when answered).
    public var event: String {
        switch action {
        case "create": "compute__do_build_and_run_instance"
        default: "compute_\(action)_instance"
        }
    }
}

extension Server {
    /// Records `action` as made by `caller` at `time` (the oldest dropped beyond `maxKept`).
    mutating func record(_ action: String, by caller: Caller, at time: Timestamp, requestID: String) {
        actions.append(
            InstanceAction(
                action: action, requestID: requestID, userID: caller.userID, projectID: caller.projectID, started: time))
        if actions.count > InstanceAction.maxKept { actions.removeFirst(actions.count - InstanceAction.maxKept) }
    }
}
