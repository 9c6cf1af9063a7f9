"""The PostgreSQL store end to end: several API hosts on one database, a database that goes away
and comes back, schema versions, and moving records between the stores with export and import.

Each test makes databases of its own in a cluster: $ALLIANCE_TEST_DATABASE_URL's (deploy/test
starts one), or one this module starts. The outage test kills a cluster of its own.
"""
import itertools
import json
import os
import pathlib
import subprocess
import time

import pytest

from service import BINARY, Database, PostgresCluster, Service, psql, until


def run(*args, check=True):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def cluster():
    """The cluster's URL: deploy/test's, or one started (and stopped) here."""
    if os.environ.get("ALLIANCE_TEST_DATABASE_URL"):
        yield os.environ["ALLIANCE_TEST_DATABASE_URL"]
        return
    started = PostgresCluster()
    yield started.url
    started.stop()


@pytest.fixture
def two_hosts(tmp_path, tls_dir, cluster):
    """Two API hosts (worker + nginx each) on one database."""
    database = Database(cluster)
    hosts = [Service(tmp_path / name, tls_dir, database=database) for name in ("a", "b")]
    try:
        for host in hosts:
            host.start()
        yield hosts
    finally:
        for host in hosts:
            host.close()
        database.drop()


def test_a_server_made_on_one_host_is_seen_and_changed_on_the_other_at_once(two_hosts):
    a, b = two_hosts
    made = a.create_server("shared-1")
    assert made.status == 200, made
    server = made.json["server"]
    seen = b.get(f"/servers/{server['id']}")
    assert seen.status == 200 and seen.json["server"] == server
    # The names and addresses rules hold across hosts: the database enforces them.
    clash = b.create_server("shared-1")
    assert clash.status == 409 and "shared-1" in clash.fault[2]
    other = b.create_server("shared-2").json["server"]
    assert other["addresses"]["private"][0]["addr"] != server["addresses"]["private"][0]["addr"]
    renamed = b.patch(f"/servers/{server['id']}", {"server": {"new_name": "shared-3"}})
    assert renamed.status == 200
    assert a.get(f"/servers/{server['id']}").json["server"]["name"] == "shared-3"
    assert a.delete(f"/servers/{other['id']}").status == 204
    assert b.get(f"/servers/{other['id']}").status == 404


def test_a_token_made_on_one_host_works_on_every_host_at_once_and_a_revoke_counts_within_ms(two_hosts):
    a, b = two_hosts
    token = a.make_token("web", "ci", "member")
    for host in (a, b):
        assert host.get("/servers", headers={"X-Auth-Token": token}).status == 200, "at once: nothing to wait for"
    b.cli("token", "revoke", token.split(".")[0])
    for host in (a, b):
        refused, waited = until(lambda: host.get("/servers", headers={"X-Auth-Token": token}),
                                lambda reply: reply.status != 200)
        print(f"revoked on b: refused after {waited * 1000:.1f} ms")
        assert refused.status == 401 and refused.fault[0] == "unauthorized"
    a.cli("quota", "set", "--project", "web", "--instances", "0")
    other = a.make_token("web", "ci", "member")
    names = (f"q{n}" for n in itertools.count())
    over, _ = until(lambda: b.post("/servers", {"server": {"name": next(names), "flavor": "m1.tiny",
                                                           "image": "cirros-0.3.4-x86_64-uec"}},
                                   headers={"X-Auth-Token": other}),
                    lambda reply: reply.status != 200)
    assert over.status == 403 and "quota" in over.fault[2].lower()


def test_a_database_that_goes_away_is_a_503_naming_it_and_the_service_recovers(tmp_path, tls_dir):
    own = PostgresCluster()
    database = Database(own.url)
    service = Service(tmp_path / "host", tls_dir, database=database)
    try:
        service.start()
        kept = service.create_server("kept").json["server"]
        own.kill()
        for method, path, body in [("GET", "/servers", None), ("GET", f"/servers/{kept['id']}", None),
                                   ("POST", "/servers", {"server": {"name": "x", "flavor": "m1.tiny",
                                                                    "image": "cirros-0.3.4-x86_64-uec"}}),
                                   ("GET", "/v2.1/servers/detail", None)]:
            reply = service.request(method, path, body=body)
            assert reply.status == 503, (path, reply)
            name, code, message = reply.fault
            assert name == "serviceUnavailable" and code == 503 and "database" in message, reply
        health = service.get("/healthz")
        assert health.status == 503
        assert health.json["status"] == "degraded" and "database" in health.json["store"]["problem"]
        assert health.json["servers"] is None
        assert service.worker.poll() is None, "the worker must keep running without its database"
        own.start()
        deadline = time.time() + 30
        while service.get("/servers").status != 200:
            assert time.time() < deadline, service.log()[-3000:]
            time.sleep(0.1)
        assert [s["id"] for s in service.get("/servers").json["servers"]] == [kept["id"]]
        assert service.create_server("after").status == 200
        assert service.get("/healthz").json["status"] == "ok"
    finally:
        service.close()
        database.drop()
        own.stop()


def test_a_change_waiting_on_the_database_leaves_reads_a_thread(tmp_path, tls_dir, cluster):
    """One serving thread: a create that waits (here for the servers table, which psql holds in
    SHARE mode: reads go on, inserts wait; as a create waits for its commit) hands its place to
    another thread, so reads are answered meanwhile; the create finishes once the lock goes."""
    import threading
    database = Database(cluster)
    service = Service(tmp_path / "host", tls_dir, database=database)
    holder = None
    try:
        service.start_worker("--threads", "1")
        service.start_nginx()
        kept = service.create_server("kept").json["server"]
        holder = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database.url],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        holder.stdin.write("BEGIN;\nLOCK TABLE servers IN SHARE MODE;\n")
        holder.stdin.flush()
        holding = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                   " AND query LIKE 'LOCK TABLE servers%' AND datname = current_database()")
        assert until(lambda: psql(database.url, holding).strip(), lambda n: n == "1", seconds=10)[0] == "1"
        created = {}
        body = {"server": {"name": "waiting", "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec"}}
        create = threading.Thread(target=lambda: created.update(reply=service.post("/servers", body, timeout=30)))
        create.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        assert until(lambda: psql(database.url, waiting).strip(), lambda n: n == "1", seconds=10)[0] == "1"
        started = time.time()
        for _ in range(3):
            reply = service.get(f"/servers/{kept['id']}", timeout=5)
            assert reply.status == 200, reply
        assert time.time() - started < 2
        assert create.is_alive(), "the create still waits for the lock"
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        create.join(timeout=20)
        assert created["reply"].status == 200, created
        assert service.get("/servers?name=waiting").json["servers"][0]["name"] == "waiting"
    finally:
        if holder:
            holder.kill()
            holder.wait()
        service.close()
        database.drop()


def test_serve_refuses_a_schema_of_another_version(tmp_path, cluster):
    fresh = Database(cluster, upgrade=False)
    try:
        refused = run("serve", "--database", fresh.url, "--socket", str(tmp_path / "s.sock"), check=False)
        assert refused.returncode != 0
        assert "schema is version 0" in refused.stderr + refused.stdout and "db upgrade" in refused.stderr + refused.stdout
        first = run("db", "upgrade", "--database", fresh.url).stdout
        assert "from schema version 0 to 7" in first
        assert "nothing to do" in run("db", "upgrade", "--database", fresh.url).stdout
        fresh.sql("INSERT INTO schema_version (version) VALUES (99)")
        newer = run("serve", "--database", fresh.url, "--socket", str(tmp_path / "s.sock"), check=False)
        assert newer.returncode != 0 and "newer than this release serves" in newer.stdout + newer.stderr
        cli = run("token", "list", "--database", fresh.url, check=False)
        assert cli.returncode == 1 and "schema is version 99" in cli.stderr and "Usage" not in cli.stderr
    finally:
        fresh.drop()


def test_export_and_import_move_every_record_between_the_stores(tmp_path, tls_dir, cluster):
    """files → export → import into PostgreSQL → export again: the same records, byte for byte
    where the format is the files' own; tokens made before the move still work after it."""
    files = Service(tmp_path / "files", tls_dir, store="files")
    database = Database(cluster)
    try:
        files.start()
        member = files.make_token("web", "dev", "member")
        files.cli("quota", "set", "--project", "web", "--instances", "7")
        # Nova's other resources and the default quota class move too.
        assert files.request("PUT", "/v2.1/os-quota-sets/web", {"quota_set": {"key_pairs": 7}}).status == 200
        assert files.request("PUT", "/v2.1/os-quota-class-sets/default",
                             {"quota_class_set": {"metadata_items": 64}}).status == 200
        password = files.cli("user", "create", "--project", "web", "--name", "ada").strip()
        made = files.post("/servers", {"server": {"name": "multi", "flavor": "m1.small",
                                                  "image": "cirros-0.3.4-x86_64-uec", "network": "private",
                                                  "min_count": 4}})
        assert made.status == 200
        # A deleted server is kept for changes-since (a tombstone in its record's place): it moves too.
        deleted_id = made.json["servers"][3]["id"]
        assert files.delete(f"/servers/{deleted_id}").status == 204
        renamed = files.patch(f"/servers/{made.json['servers'][0]['id']}", {"server": {"new_name": "renamed"}})
        assert renamed.status == 200
        assert files.post("/flavors", {"flavor": {"name": "custom", "vcpus": 3, "ram": 3072, "disk": 30}}).status == 200
        assert files.post("/v2.1/os-keypairs", {"keypair": {"name": "ops"}}).status == 200
        group = files.post("/v2.1/os-server-groups", {"server_group": {"name": "web", "policies": ["affinity"]}})
        assert group.status == 200
        security = files.post("/network/v2.0/security-groups", {"security_group": {"name": "web"}})
        assert security.status == 201
        before = files.snapshot()
        files.stop_nginx()
        files.stop_worker()

        exported = tmp_path / "export"
        out = run("export", "--data-dir", str(files.data), "--to", str(exported)).stdout
        assert ("exported 3 servers (and 1 deleted, kept for changes-since), 6 flavors, 2 tokens, 3 quota overrides, 1 users, 1 projects, 0 application"
                " credentials, 1 key pairs, 1 server groups and 2 security groups") in out
        run("import", "--from", str(exported), "--database", database.url)
        again = run("import", "--from", str(exported), "--database", database.url, check=False)
        assert again.returncode == 1 and "--replace" in again.stderr
        run("import", "--from", str(exported), "--database", database.url, "--replace")

        moved = Service(tmp_path / "moved", tls_dir, database=database)
        moved.token = files.token
        moved.start()
        try:
            assert moved.snapshot() == before
            assert moved.get("/v2.1/os-keypairs/ops").status == 200, "key pairs moved"
            assert moved.get(f"/v2.1/os-server-groups/{group.json['server_group']['id']}").status == 200
            rules = moved.get(f"/network/v2.0/security-groups/{security.json['security_group']['id']}")
            assert len(rules.json["security_group"]["security_group_rules"]) == 2, "security groups moved with their rules"
            assert moved.get("/servers", headers={"X-Auth-Token": member}).status == 200
            assert "web: instances 7, cores default, ram default, key_pairs 7" in moved.cli("quota", "show")
            assert moved.get("/v2.1/os-quota-class-sets/default").json["quota_class_set"]["metadata_items"] == 64
            assert moved.get("/v2.1/os-quota-sets/other").json["quota_set"]["metadata_items"] == 64
            # Users moved too: ada signs in with her password on the database.
            signed = moved.post("/identity/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
                "user": {"name": "ada", "domain": {"id": "default"}, "password": password}}}}},
                headers={"X-Auth-Token": None})
            assert signed.status == 201 and signed.json["token"]["project"]["id"] == "web"
            polled = moved.get("/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z").json["servers"]
            assert [s["status"] for s in polled if s["id"] == deleted_id] == ["DELETED"]
            # Addresses moved with their servers: the next one is the next free.
            new = moved.create_server("after-move").json["server"]
            assert new["addresses"]["private"][0]["addr"] == "10.0.0.5"
        finally:
            moved.close()

        back = tmp_path / "back"
        run("export", "--database", database.url, "--to", str(back))
        for kind in ("servers", "tokens", "quotas", "users", "projects"):
            for path in (exported / kind).iterdir():
                assert json.loads((back / kind / path.name).read_text()) == json.loads(path.read_text()), path
        # A flavor's file is named by a key of the files' own (flavor ids may be `..`): the
        # records are the same but for it.
        def flavors(directory):
            records = [json.loads(p.read_text()) for p in (directory / "flavors").iterdir()]
            return sorted((json.dumps({k: v for k, v in r.items() if k != "record_key"}, sort_keys=True)
                           for r in records))
        assert flavors(back) == flavors(exported)
    finally:
        files.close()
        database.drop()


def test_rows_keep_the_files_record_format_readable_with_psql(cluster, tmp_path, tls_dir):
    database = Database(cluster)
    service = Service(tmp_path / "host", tls_dir, database=database)
    try:
        service.start()
        server = service.create_server("readable").json["server"]
        record = json.loads(database.sql(f"SELECT record FROM servers WHERE id = '{server['id']}'"))
        assert record["id"] == server["id"] and record["name"] == "readable" and record["version"] == 1
        assert psql(database.url, "SELECT name FROM flavors WHERE record->>'name' = 'm1.small'").strip() == "m1.small"
    finally:
        service.close()
        database.drop()


def test_a_libpq_service_names_the_database_without_a_url(tmp_path, cluster):
    """`--database service=NAME` with the connection in a pg_service.conf (and a password, if
    any, in PGPASSFILE): nothing on the command line or in the unit but the service's name."""
    database = Database(cluster)
    try:
        settings = dict(part.split("=", 1) for part in database.url.split("?", 1)[1].split("&"))
        (tmp_path / "pg_service.conf").write_text(
            f"[alliance]\nhost={settings['host']}\nport={settings['port']}\nuser={settings['user']}\n"
            f"dbname={database.name}\n")
        environment = {**os.environ, "PGSERVICEFILE": str(tmp_path / "pg_service.conf")}
        made = subprocess.run([BINARY, "token", "create", "--database", "service=alliance", "--project", "svc",
                               "--user", "u", "--role", "member"], capture_output=True, text=True, env=environment)
        assert made.returncode == 0, made.stderr
        token_id = made.stdout.strip().split(".")[0]
        assert database.sql(f"SELECT id FROM tokens WHERE id = '{token_id}'").strip() == token_id
    finally:
        database.drop()
