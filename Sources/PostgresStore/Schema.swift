/// The database schema, as numbered migrations applied in order (`alliance-compute db
/// upgrade`). A release serves exactly `Schema.version`; `serve` refuses an older or newer one.
///
/// Each server and flavor row keeps its whole record as `jsonb` (the JSON-file store's record
/// format, readable with `psql`, exported and imported losslessly) beside the columns the rules
/// need indexed: the database itself enforces unique names per project, unique addresses per
/// network, and the version a change is made over.
enum Schema {
    static let version = migrations.count

    static let migrations: [String] = [
        // 1: servers, flavors, addresses, quota locks, tokens, quota overrides.
        """
        -- Ids are ordered byte-wise ("C"), as the listing order and its cursors compare them.
        CREATE TABLE servers (
            id text COLLATE "C" PRIMARY KEY,
            project_id text NOT NULL,
            name text NOT NULL,
            status text NOT NULL,
            flavor_id text NOT NULL,
            flavor_name text NOT NULL,
            image_id text NOT NULL,
            reservation_id text NOT NULL,
            network text,
            address bigint,
            vcpus integer NOT NULL,
            ram integer NOT NULL,
            created_us bigint NOT NULL,
            launch_index integer NOT NULL,
            updated_us bigint NOT NULL,
            version integer NOT NULL,
            record jsonb NOT NULL,
            CONSTRAINT servers_name_unique UNIQUE (project_id, name),
            CONSTRAINT servers_address_unique UNIQUE (network, address)
        );
        CREATE INDEX servers_order ON servers (created_us, launch_index, id);
        CREATE INDEX servers_project_order ON servers (project_id, created_us, launch_index, id);
        CREATE INDEX servers_status_order ON servers (status, created_us, launch_index, id);
        CREATE INDEX servers_reservation ON servers (reservation_id);
        -- (No index on the flavor columns: a filter by flavor walks the listing order, as the
        -- JSON-file store does; each index costs every create.)
        -- Every address of every configured network, with the server holding it: the lowest
        -- free one is the first entry of the partial index, and FOR UPDATE SKIP LOCKED lets
        -- concurrent creates (on any host) take different ones without waiting. The statements
        -- that insert and delete servers set and clear `server_id` (a foreign key would lock
        -- the server's row on every create); servers_address_unique is what guarantees that
        -- no address is held twice.
        CREATE TABLE networks (name text PRIMARY KEY, first_address bigint NOT NULL, last_address bigint NOT NULL);
        CREATE TABLE addresses (
            network text NOT NULL REFERENCES networks (name) ON DELETE CASCADE,
            address bigint NOT NULL,
            server_id text COLLATE "C",
            PRIMARY KEY (network, address)
        );
        CREATE INDEX addresses_free ON addresses (network, address) WHERE server_id IS NULL;
        CREATE TABLE flavors (
            id text PRIMARY KEY,
            name text NOT NULL CONSTRAINT flavors_name_unique UNIQUE,
            record_key text NOT NULL,
            version integer NOT NULL,
            record jsonb NOT NULL
        );
        -- One row per project that has had a quota-checked create: locked while its usage is
        -- counted and changed, so concurrent creates cannot pass the quota together.
        CREATE TABLE projects (id text PRIMARY KEY);
        CREATE TABLE quota_overrides (
            project_id text PRIMARY KEY,
            instances integer,
            cores integer,
            ram integer
        );
        CREATE TABLE tokens (
            id text PRIMARY KEY,
            record jsonb NOT NULL
        );
        -- Every API host caches tokens, flavors and quota overrides, and drops what it cached
        -- from a table when told (at commit) that a transaction changed it.
        CREATE FUNCTION alliance_table_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('alliance_changes', TG_TABLE_NAME); RETURN NULL; END
        $$;
        CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        CREATE TRIGGER flavors_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON flavors
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        CREATE TRIGGER quota_overrides_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON quota_overrides
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);
        """,
        // 2: the identity API's users, projects and application credentials, each record whole
        // as jsonb (the files' format); the database keeps their names unique.
        """
        CREATE TABLE identity_users (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE UNIQUE INDEX identity_users_name ON identity_users ((record->>'domain'), (record->>'name'));
        CREATE TABLE identity_projects (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE UNIQUE INDEX identity_projects_name ON identity_projects ((record->>'domain'), (record->>'name'));
        CREATE TABLE identity_application_credentials (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE UNIQUE INDEX identity_application_credentials_name
            ON identity_application_credentials ((record->>'user'), (record->>'name'));
        CREATE TRIGGER identity_users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_users
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        CREATE TRIGGER identity_projects_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_projects
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        CREATE TRIGGER identity_application_credentials_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_application_credentials
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        """,
        // 3: Nova's key pairs, a user's own (names unique per user, as the database keeps them).
        """
        CREATE TABLE identity_keypairs (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE UNIQUE INDEX identity_keypairs_name ON identity_keypairs ((record->>'user'), (record->>'name'));
        CREATE TRIGGER identity_keypairs_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_keypairs
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        """,
        // 4: Nova's server groups, a project's own (names may repeat, as in Nova).
        """
        CREATE TABLE identity_server_groups (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE TRIGGER identity_server_groups_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_server_groups
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        """,
        // 5: Neutron's security groups with their rules, a project's own.
        """
        CREATE TABLE identity_security_groups (id text PRIMARY KEY, record jsonb NOT NULL);
        CREATE TRIGGER identity_security_groups_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_security_groups
            FOR EACH STATEMENT EXECUTE FUNCTION alliance_table_changed();
        """,
        // 6: Nova's other quota resources (metadata_items, key_pairs, …) per project and for the
        // default quota class (the row ':default'), by name.
        """
        ALTER TABLE quota_overrides ADD COLUMN others jsonb;
        """,
        // 7: deleted servers kept for a while (Nova's changes-since lists them as DELETED): the
        // columns of `servers` with the tombstone's record, `updated_us` being when it was deleted.
        // No name or address rule: a deleted server holds neither.
        """
        CREATE TABLE deleted_servers (LIKE servers);
        ALTER TABLE deleted_servers ADD PRIMARY KEY (id);
        CREATE INDEX deleted_servers_order ON deleted_servers (created_us, launch_index, id);
        CREATE INDEX deleted_servers_project_order ON deleted_servers (project_id, created_us, launch_index, id);
        CREATE INDEX deleted_servers_deleted ON deleted_servers (updated_us);
        """,
    ]

    /// The version the database is at: 0 before the first upgrade. Reads only.
    static func currentVersion(_ connection: PostgresConnection) throws(PostgresError) -> Int {
        guard try connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").string(0, 0) == "t" else { return 0 }
        return try connection.execute("SELECT max(version) FROM schema_version").int(0, 0) ?? 0
    }

    /// Applies every migration past the database's version, each in its own transaction.
    /// Returns the versions applied.
    static func upgrade(_ connection: PostgresConnection) throws(PostgresError) -> [Int] {
        // One upgrader at a time, whichever host runs it.
        try connection.run("SELECT pg_advisory_lock(7306)")
        defer { try? connection.run("SELECT pg_advisory_unlock(7306)") }
        try connection.run("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        var applied: [Int] = []
        let current = try currentVersion(connection)
        guard current < version else { return [] }
        for (index, sql) in migrations.enumerated() where index + 1 > current {
            try connection.transaction { c throws(PostgresError) in
                try c.run(sql)
                try c.execute("INSERT INTO schema_version (version) VALUES ($1)", ["\(index + 1)"])
            }
            applied.append(index + 1)
        }
        return applied
    }
}
