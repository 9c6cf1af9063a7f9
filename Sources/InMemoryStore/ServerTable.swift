import ComputeCore

/// A server as the in-memory store keeps it: in a box of its own, which the table and every
/// index it is in refer to. Immutable: a change replaces the box.
final class StoredServer: IndexEntry {
    let server: Server

    init(_ server: Server) { self.server = server }

    /// Its place in listings.
    var key: ServerOrderKey { server.order }
}

/// Servers by id, each in a box of its own.
///
/// A Swift dictionary keeps its values inline in a table of up to twice as many buckets as it
/// holds, so at 100,000 servers `[String: Server]` (a `Server` is about 300 bytes) held a
/// 262,144-bucket table of 82 MB, most of it empty buckets (heaptrack). Boxed, the table holds
/// 8-byte references and each server one allocation of its own size.
struct ServerTable: Sendable {
    private var boxes: [String: StoredServer] = [:]

    subscript(id: String) -> Server? { boxes[id]?.server }

    var count: Int { boxes.count }

    /// Keeps `server` (replacing the one with its id) and returns its box, for the indexes.
    mutating func insert(_ server: Server) -> StoredServer {
        let stored = StoredServer(server)
        boxes[server.id] = stored
        return stored
    }

    @discardableResult
    mutating func removeValue(forKey id: String) -> Server? {
        boxes.removeValue(forKey: id)?.server
    }
}

/// Which server holds each name, per project.
///
/// One dictionary per project, not one keyed by project and name: at 100,000 servers the single
/// table held 262,144 buckets of a 32-byte key and a 16-byte id (12.6 MB); a project's own
/// holds the name and a reference (6.3 MB for 100,000 in one project).
struct ServerNames: Sendable {
    private var byProject: [String: [String: StoredServer]] = [:]

    subscript(key: NameKey) -> StoredServer? { byProject[key.projectID]?[key.name] }

    /// Gives `key` to `stored`; false when another server holds it.
    mutating func claim(_ key: NameKey, for stored: StoredServer) -> Bool {
        if byProject[key.projectID]?[key.name] != nil { return false }
        byProject[key.projectID, default: [:]][key.name] = stored
        return true
    }

    /// Frees `key` if server `id` holds it.
    mutating func release(_ key: NameKey, heldBy id: String) {
        guard byProject[key.projectID]?[key.name]?.server.id == id else { return }
        byProject[key.projectID]![key.name] = nil
        if byProject[key.projectID]!.isEmpty { byProject[key.projectID] = nil }
    }
}
