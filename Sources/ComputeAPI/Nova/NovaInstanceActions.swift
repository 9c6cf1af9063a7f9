import ComputeCore
import HTTPTypes

/// Nova's instance actions: `/servers/{id}/os-instance-actions` (newest first; from 2.58
/// `limit`, `marker` (a request id) and `changes-since`, from 2.66 `changes-before`) and
/// `/servers/{id}/os-instance-actions/{request_id}` with its events (to admins, and from 2.51 to
/// everyone who may see the action; a traceback only to admins). Every action is over when it
/// is answered, so each has one event, finished, `Success`. From 2.21 a deleted server's actions
/// are shown while the server is kept (`--keep-deleted-servers`), its `delete` the last.
extension NovaAPI {
    func registerInstanceActions(into router: inout Router<RequestContext>) {
        route(&router, .get, "/servers/{id}/os-instance-actions", .instanceActionsList) { n, p in
            let server = try serverOfActions(p["id"], n)
            let query = try n.query()
            var actions = Array(server.actions.reversed())
            if n.version >= Microversion(58) {
                var known: Set<String> = ["limit", "marker", "changes-since"]
                if n.version >= Microversion(66) { known.insert("changes-before") }
                try Self.checkParameters(query, known: known, unsupported: [], n)
                if let since = try Self.instant(query, "changes-since") { actions.removeAll { $0.started < since } }
                if n.version >= Microversion(66), let before = try Self.instant(query, "changes-before") {
                    actions.removeAll { $0.started > before }
                }
                if let marker = try query.value("marker") {
                    guard let index = actions.firstIndex(where: { $0.requestID == marker }) else {
                        throw ComputeError.invalidInput("Marker \(marker.prefix(255)) could not be found.")
                    }
                    actions.removeFirst(index + 1)
                }
                if let limit = try query.integer("limit", in: 0...Int.max) { actions = Array(actions.prefix(limit)) }
            }
            return APIResponse.list("instanceActions", actions, itemBytes: 300) { action, w in
                Self.instanceAction(action, of: server, n, into: &w) { _ in }
            }
        }
        route(&router, .get, "/servers/{id}/os-instance-actions/{request}", .instanceActionsShow) { n, p in
            let server = try serverOfActions(p["id"], n)
            guard let action = server.actions.last(where: { $0.requestID == p["request"] }) else {
                throw ComputeError.notFound(
                    "Action for request_id \(p["request"].prefix(255)) on instance \(server.id) not found")
            }
            let events = n.version >= Microversion(51) || n.caller.isAdmin
            return APIResponse.document("instanceAction", capacity: 800) { w in
                Self.instanceAction(action, of: server, n, into: &w) { w in
                    if events { Self.event(of: action, n, into: &w) }
                }
            }
        }
    }

    /// The server whose actions are asked for: from 2.21 a deleted one still kept, too.
    func serverOfActions(_ id: String, _ n: NovaContext) throws -> Server {
        do {
            return try inventory.server(.id(id), caller: n.caller)
        } catch {
            guard case .notFound = error, n.version >= Microversion(21),
                let deleted = try inventory.deletedServer(id: id, caller: n.caller)
            else { throw error }
            return deleted
        }
    }

    static func instanceAction(
        _ action: InstanceAction, of server: Server, _ n: NovaContext, into w: inout JSONWriter,
        _ more: (inout JSONWriter) -> Void
    ) {
        w.beginObject()
        w.field("action", action.action)
        w.field("instance_uuid", server.id)
        w.field("message", nil)
        w.field("project_id", action.projectID)
        w.field("request_id", action.requestID)
        w.field("start_time", actionTime(action.started))
        w.field("user_id", action.userID)
        if n.version >= Microversion(58) { w.field("updated_at", actionTime(action.started)) }
        more(&w)
        w.endObject()
    }

    /// `"events": [{…}]`: the one event of an action that is over.
    static func event(of action: InstanceAction, _ n: NovaContext, into w: inout JSONWriter) {
        w.key("events")
        w.beginArray()
        w.beginObject()
        w.field("event", action.event)
        w.field("start_time", actionTime(action.started))
        w.field("finish_time", actionTime(action.started))
        w.field("result", "Success")
        if n.caller.isAdmin { w.field("traceback", nil) }
        if n.version >= Microversion(62) {
            w.field("hostId", "")
            if n.caller.isAdmin { w.field("host", nil) }
        }
        w.endObject()
        w.endArray()
    }

    /// Nova's form for these times: microseconds, no zone (UTC).
    static func actionTime(_ time: Timestamp) -> String { String(time.iso8601Microseconds.dropLast()) }
}
