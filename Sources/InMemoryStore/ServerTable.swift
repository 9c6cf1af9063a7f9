import ComputeCore

/// Servers by id, each in a box of its own.
///
/// A Swift dictionary keeps its values inline in a table of up to twice as many buckets as it
/// holds, so at 100,000 servers `[String: Server]` (a `Server` is about 300 bytes) held a
/// 262,144-bucket table of 82 MB, most of it empty buckets (heaptrack). Boxed, the table holds
/// 8-byte references and each server one allocation of its own size.
struct ServerTable: Sendable {
    private final class Box: Sendable {
        let server: Server
        init(_ server: Server) { self.server = server }
    }

    private var boxes: [String: Box] = [:]

    subscript(id: String) -> Server? {
        get { boxes[id]?.server }
        set { boxes[id] = newValue.map(Box.init) }
    }

    var count: Int { boxes.count }

    @discardableResult
    mutating func removeValue(forKey id: String) -> Server? {
        boxes.removeValue(forKey: id)?.server
    }
}
