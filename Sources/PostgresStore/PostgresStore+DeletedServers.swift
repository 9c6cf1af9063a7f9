import ComputeCore
import JSONFileStore

/// Deleted servers kept for a while: rows of `deleted_servers`, moved there from `servers` by
/// the statement that deletes them (`deleteServer(id:expecting:keeping:)`).
extension PostgresStore {
    public func deletedServer(id: String) throws(ComputeError) -> Server? {
        try run("read a deleted server") { c throws(PostgresError) in
            try servers(try c.execute("SELECT \(Self.serverColumns) FROM deleted_servers WHERE id = $1", [id])).first
        }
    }

    public func deletedServers(matching filter: ServerFilter, after: ServerOrderKey?, limit: Int) throws(ComputeError)
        -> ServerPage
    {
        try page(of: "deleted_servers", matching: filter, after: after, limit: limit)
    }

    public func purgeDeletedServers(deletedBefore cutoff: Timestamp, limit: Int) throws(ComputeError) -> Int {
        try run("forget deleted servers", writing: true) { c throws(PostgresError) in
            try c.execute(
                """
                DELETE FROM deleted_servers WHERE id IN (
                    SELECT id FROM deleted_servers WHERE updated_us < $1 ORDER BY updated_us LIMIT $2
                )
                """, ["\(cutoff.microsecondsSinceEpoch)", "\(limit)"]
            ).affected
        }
    }

    /// Inserts a deleted server (its columns as `columns` lists them): an import's.
    static let insertDeletedServer = """
        INSERT INTO deleted_servers (id, project_id, name, status, flavor_id, flavor_name, image_id, reservation_id,
            network, address, vcpus, ram, created_us, launch_index, updated_us, version, record)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb)
        """

    /// A server's record as the `jsonb` parameter takes it.
    func recordText(_ server: Server) throws(ComputeError) -> String {
        do {
            return String(decoding: try ServerRecord.encode(server), as: UTF8.self)
        } catch {
            throw .unavailable("The service cannot save changes right now. Try again later.")
        }
    }
}
