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
            if let server = known[row], "\(server.version)" == rows.string(row, 1),
                "\(server.updated.microsecondsSinceEpoch)" == rows.string(row, 2)
            {
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
