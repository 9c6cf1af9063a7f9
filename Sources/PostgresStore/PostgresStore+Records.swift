import ComputeCore
import JSONFileStore

/// How servers and flavors go between rows and records (the JSON files' record format).
extension PostgresStore {
    // MARK: Rows and records

    /// What a read of servers selects: their id, the version and change time of the record,
    /// and the record.
    static let serverColumns = "id, version, updated_us, record::text"

    /// The servers of rows selected with `serverColumns`. A record is decoded once per version:
    /// records are immutable at a version (every change is a new one, with a new `updated`),
    /// so the decoded server is kept and the next read of the same version skips decoding
    /// (10 µs of a listing's 20 µs a server).
    ///
    /// `known`: the server as the caller found it in the cache (a statement that leaves out a
    /// record this host already has passes it, so a cache emptied meanwhile changes nothing).
    func servers(_ rows: Rows, known hint: Server? = nil) throws(PostgresError) -> [Server] {
        var servers: [Server] = []
        servers.reserveCapacity(rows.count)
        let known = decoded.withLock { cache in
            (0..<rows.count).map { row in
                let id = rows.string(row, 0) ?? ""
                return hint?.id == id ? hint : cache[id]
            }
        }
        var fresh: [Server] = []
        for row in 0..<rows.count {
            if let server = known[row], Self.isAt(server, rows, row) {
                servers.append(server)
                continue
            }
            let decoding = rows.withBytes(row, 3) { bytes in
                Result { () throws(RecordFormatError) in try ServerRecord.decode(bytes) }
            }
            switch decoding {
            case .success(let server):
                servers.append(server)
                fresh.append(server)
            case .failure(let error):
                throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a server record does not read: \(error)")
            }
        }
        if !fresh.isEmpty {
            decoded.withLock { cache in
                if cache.count + fresh.count > Self.decodedLimit { cache.removeAll(keepingCapacity: true) }
                for server in fresh { cache[server.id] = server }
            }
        }
        return servers
    }

    /// The servers `listed` names (rows of id, version and change time, in the page's order):
    /// those this host has decoded at that version from memory, the others' records read in one
    /// statement by id. Nil when the caller should read the page whole instead: when one of
    /// those is no longer at the version listed (changed or deleted in between), so that a page
    /// never mixes two moments, or when most of the page is missing. Reading records by id costs
    /// more per row than reading them in the page's own order (1,000 of them: about 2 ms more for
    /// the lookups, EXPLAIN ANALYZE; a scan by name pattern over 30,000 servers, more than this
    /// host keeps decoded, took 554 ms reading pages whole and 827 ms reading every record by id).
    func servers(_ listed: Rows, readingMissingFrom table: String, _ c: PostgresConnection) throws(PostgresError)
        -> [Server]?
    {
        let ids = (0..<listed.count).map { listed.string($0, 0) ?? "" }
        var found = decoded.withLock { cache in ids.map { cache[$0] } }
        for row in found.indices where found[row].map({ !Self.isAt($0, listed, row) }) ?? false { found[row] = nil }
        let missing = found.indices.filter { found[$0] == nil }
        if missing.count * 2 > listed.count { return nil }
        if !missing.isEmpty {
            let read = try servers(
                try c.execute(
                    "SELECT \(Self.serverColumns) FROM \(table) WHERE id = ANY($1::text[])",
                    [Self.textArray(missing.map { ids[$0] })]))
            let byID = Dictionary(read.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for row in missing {
                guard let server = byID[ids[row]], Self.isAt(server, listed, row) else { return nil }
                found[row] = server
            }
        }
        return found.compactMap { $0 }
    }

    /// Whether `server` is the version, and has the change time, that `row` of `rows` names in
    /// its columns 1 and 2 (as `serverColumns` and a listing's first statement select them).
    static func isAt(_ server: Server, _ rows: Rows, _ row: Int) -> Bool {
        "\(server.version)" == rows.string(row, 1) && "\(server.updated.microsecondsSinceEpoch)" == rows.string(row, 2)
    }

    /// `{"a","b"}`: strings as a `text[]` parameter.
    static func textArray(_ items: [String]) -> String {
        let quoted = items.map { item in
            "\"" + item.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }

    static func flavors(_ rows: Rows) throws(PostgresError) -> [Flavor] {
        var flavors: [Flavor] = []
        for row in 0..<rows.count {
            let decoded = rows.withBytes(row, 0) { bytes in
                Result { () throws(RecordFormatError) in try FlavorRecord.decode(bytes) }
            }
            switch decoded {
            case .success(let (flavor, _)): flavors.append(flavor)
            case .failure(let error):
                throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a flavor record does not read: \(error)")
            }
        }
        return flavors
    }

    /// The indexed columns and the record of a server, as the INSERT takes them.
    static func columns(_ server: Server) throws(PostgresError) -> [String?] {
        let record: [UInt8]
        do {
            record = try ServerRecord.encode(server)
        } catch {
            throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a server does not encode: \(error)")
        }
        return [
            server.id, server.projectID, server.name, server.status.rawValue, server.flavor.id, server.flavor.name,
            server.imageID, server.reservationID, server.network, server.address.map { "\($0.value)" },
            "\(server.flavor.vcpus)", "\(server.flavor.ram)", "\(server.created.microsecondsSinceEpoch)",
            "\(server.launchIndex)", "\(server.updated.microsecondsSinceEpoch)", "\(server.version)",
            String(decoding: record, as: UTF8.self),
        ]
    }

    static func record(_ flavor: Flavor, key: String) throws(PostgresError) -> String {
        do {
            return String(decoding: try FlavorRecord.encode(flavor, recordKey: key), as: UTF8.self)
        } catch {
            throw PostgresError(kind: .statement, sqlState: "ALLIANCE", message: "a flavor does not encode: \(error)")
        }
    }
}
