"""The service as an operator runs it: `deploy/install` on a fresh Debian 12 under a booted
systemd (Tests/e2e/booted.py), with the units' full sandbox, system-call filter and limits, and
nginx over HTTPS in front. The tests run in order on one machine, as one operator's day would.
"""
import http.client
import json
import os
import re
import secrets
import ssl
import threading
import time

import pytest

import booted
from service import BINARY, PostgresCluster, fastcgi_request, psql
from test_hostile_input import CATALOGUE

DATA = "/var/lib/alliance-compute"
CONFIG = "/etc/alliance-compute/alliance-compute.toml"
# What the worker logs when the sandbox or the system-call filter refuses it something (the filter
# answers EPERM: SystemCallErrorNumber=EPERM), and what systemd logs when it kills it.
REFUSALS = ("Operation not permitted", "Permission denied", "Read-only file system", "Bad system call")
KILLS = ("status=31/SYS", "code=dumped", "status=6/ABRT", "status=11/SEGV", "status=7/BUS")

# Outside deploy/test (which installs what it needs and requires it), a machine that cannot boot
# one skips these tests, saying why.
pytestmark = pytest.mark.skipif(booted.unavailable() is not None and not os.environ.get("ALLIANCE_REQUIRE_ROOT_TESTS"),
                                reason=str(booted.unavailable()))


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    if reason := booted.unavailable():
        raise RuntimeError(f"ALLIANCE_REQUIRE_ROOT_TESTS is set, but a booted machine cannot run here: {reason}")
    m = booted.BootedMachine(tmp_path_factory.mktemp("booted"), BINARY)
    try:
        m.boot()
        m.run("/srv/alliance-compute/deploy/install", "--binary", "/srv/alliance-compute-bin", timeout=600)
        # Room for the load tests' servers: a network is set in the file, and takes a restart.
        m.sh(f"""printf '%s\\n' 'network = ["private=10.0.0.0/16"]' >> {CONFIG}""")
        m.run("systemctl", "restart", "alliance-compute.service")
        m.token = m.run("alliance-compute", "token", "create", "--data-dir", DATA, "--project", "ops", "--user",
                        "operator", "--role", "admin").stdout.strip()
        yield m
    finally:
        m.close()


def connect(timeout=30):
    """A connection to the machine's nginx over HTTPS (its self-signed certificate is not checked)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(booted.MACHINE_ADDRESS, 443, context=context, timeout=timeout)


def https(method, path, body=None, token=None, headers=None, connection=None):
    """One request, on `connection` (kept open for the next) or a new one."""
    headers = dict(headers or {})
    if token:
        headers["X-Auth-Token"] = token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    own = connection is None
    connection = connection or connect()
    try:
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        if own:
            connection.close()


def create(m, name, connection=None):
    body = {"server": {"name": name, "flavor": "m1.tiny", "image": "cirros"}}
    return https("POST", "/servers", body, m.token, connection=connection)


class Load:
    """Clients reading and durably creating through nginx until stopped; every failure kept."""

    def __init__(self, m, prefix, clients=8):
        self.m, self.prefix = m, prefix
        self.acknowledged, self.failures, self.requests = [], [], 0
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(clients)]

    def client(self, number):
        """Alternately creates and lists, on one kept-alive connection (a new one after an error)."""
        sequence, connection = 0, None
        while not self.stopping.is_set():
            sequence += 1
            connection = connection or connect()
            started = time.time()
            try:
                if sequence % 2:
                    name = f"{self.prefix}-{number}-{sequence}"
                    status, _, body = create(self.m, name, connection)
                    if status == 200:
                        with self.lock:
                            self.acknowledged.append(name)
                else:
                    status, _, body = https("GET", "/servers?limit=5", token=self.m.token, connection=connection)
            except (OSError, http.client.HTTPException) as error:
                status, body = 0, repr(error).encode()
                connection.close()
                connection = None
            with self.lock:
                self.requests += 1
                if status != 200:
                    self.failures.append((status, body[:200], started, time.time()))
        if connection:
            connection.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *_):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def check(self, what, killed=None):
        """No request failed but, with `killed` (the instants before and after the kill), those in
        progress when the worker was killed (a 502: nginx lost the connection); those sent after
        it waited in the socket for the new worker."""
        in_progress = [f for f in self.failures if killed and f[0] == 502 and f[2] <= killed[1] and f[3] >= killed[0]]
        failed = [f[:2] for f in self.failures if f not in in_progress]
        print(f"{what}: {self.requests} requests, {len(self.acknowledged)} acknowledged creates, "
              f"{len(failed)} failed" + (f", {len(in_progress)} in progress at the kill (502)" if killed else ""))
        assert failed == [], f"{what}: {failed[:5]}"
        names = {s["name"] for s in all_servers(self.m)}
        lost = [name for name in self.acknowledged if name not in names]
        assert lost == [], f"{what}: acknowledged but lost: {lost[:5]}"


def all_servers(m):
    servers, marker = [], None
    while True:
        status, _, body = https("GET", "/servers?limit=1000" + (f"&marker={marker}" if marker else ""), token=m.token)
        assert status == 200, body
        page = json.loads(body)["servers"]
        servers += page
        if len(page) < 1000:
            return servers
        marker = page[-1]["id"]


def assert_no_refusals(m):
    """Nothing the worker logged was a refusal, and systemd never killed it."""
    worker = m.run("journalctl", "--no-pager", "-o", "cat", "_SYSTEMD_UNIT=alliance-compute.service").stdout
    refused = [line for line in worker.splitlines() if any(word in line for word in REFUSALS)]
    about = m.journal()
    # What led up to it: the unit's journal (systemd's lines about the process, and the worker's).
    context = "\n".join(line for line in about.splitlines() if "HTTP/" not in line and "GET " not in line)[-6000:]
    assert refused == [], "the sandbox refused the worker something:\n" + "\n".join(refused[:20]) + "\n" + context
    killed = [line for line in about.splitlines() if any(word in line for word in KILLS)]
    assert killed == [], "\n".join(killed) + "\n" + context
    assert "serving FastCGI on" in worker, "the worker's own lines are there to check"


def test_the_socket_answers_and_starts_the_service_on_the_first_request(machine):
    m = machine
    assert m.show("alliance-compute.socket", "ActiveState") == "active"
    m.run("systemctl", "stop", "alliance-compute.service")
    assert m.show("alliance-compute.service", "ActiveState") == "inactive"
    assert "/run/alliance-compute/fcgi.sock" in m.run("ss", "-xl").stdout, "systemd holds the socket"
    status, _, body = https("GET", "/servers", token=m.token)
    assert status == 200, body
    assert m.show("alliance-compute.service", "ActiveState") == "active", "the request started the service"
    assert m.show("alliance-compute.service", "User") == "alliance-compute"


def test_the_readme_session_and_the_worst_requests_under_the_full_sandbox(machine):
    m = machine
    restarts = m.show("alliance-compute.service", "NRestarts")
    status, _, body = create(m, "web-1")
    assert status == 200, body
    server = json.loads(body)["server"]
    assert https("GET", "/servers/web-1", token=m.token)[0] == 200
    assert https("PATCH", "/servers/web-1", {"server": {"new_name": "web-2"}}, m.token)[0] == 200
    assert https("GET", "/flavors", token=m.token)[0] == 200
    assert https("GET", "/v2.1/servers/detail", token=m.token)[0] == 200
    assert https("DELETE", f"/servers/{server['id']}", token=m.token)[0] == 204
    for name in ("existing", "café", "taken-2", "e" * 200 + "!"):
        assert create(m, name)[0] == 200
    statuses = {}
    for label, method, path, body, headers, expected in CATALOGUE:
        status, reply_headers, reply = https(method, path, body, m.token, headers)
        statuses[label] = status
        assert status == expected, (label, status, reply[:300])
        assert "application/json" in reply_headers.get("content-type", ""), (label, reply[:200])
    # The identity API writes under the sandbox too: a user the CLI makes signs in (PBKDF2, a
    # session file written and fsync'd), creates a server with the token, and revokes it.
    password = m.run("alliance-compute", "user", "create", "--data-dir", "/var/lib/alliance-compute", "--project",
                     "web", "--name", "ada").stdout.strip()
    status, headers, body = https("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"name": "ada", "domain": {"id": "default"}, "password": password}}}}})
    assert status == 201, body
    token = headers["x-subject-token"]
    assert https("POST", "/servers", {"server": {"name": "by-ada", "flavor": "m1.tiny", "image": "cirros"}}, token)[0] == 200
    assert https("DELETE", "/identity/v3/auth/tokens", token=token, headers={"X-Subject-Token": token})[0] == 204
    assert https("GET", "/servers", token=token)[0] == 401
    assert m.show("alliance-compute.service", "NRestarts") == restarts, "no request crashed the worker"
    assert m.show("alliance-compute.service", "ActiveState") == "active"
    assert_no_refusals(m)
    print(f"{len(statuses)} hostile requests answered under the sandbox, none refused by it")


def test_each_request_is_one_journal_line_with_its_request_id(machine):
    m = machine
    status, headers, _ = https("GET", "/flavors", token=m.token)
    assert status == 200
    request_id = headers["x-openstack-request-id"]
    deadline = time.time() + 10
    while True:
        lines = [line for line in m.journal().splitlines() if request_id in line]
        if lines or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(lines) == 1 and " GET /flavors 200 " in lines[0] and "user=operator@ops" in lines[0], lines


def test_restarts_under_load_fail_no_request(machine):
    m = machine
    with Load(m, "restart") as load:
        for _ in range(3):
            m.run("systemctl", "restart", "alliance-compute.service")
            time.sleep(1.5)
    load.check("systemctl restart ×3 under load")


def test_stop_drains_requests_in_progress_within_the_stop_timeout(machine):
    m = machine
    with Load(m, "stop") as load:
        started = time.time()
        m.run("systemctl", "stop", "alliance-compute.service")
        took = time.time() - started
        time.sleep(1)  # requests meanwhile wait in the socket; the next one starts the service again
    load.check("systemctl stop under load")
    timeout = float(m.show("alliance-compute.service", "TimeoutStopUSec").rstrip("s") or 20)
    print(f"systemctl stop took {took:.2f} s (TimeoutStopSec {timeout:g} s)")
    assert took < timeout
    assert "SIGTERM: no longer accepting; draining requests in progress" in m.journal()


def test_a_killed_worker_is_restarted_and_the_requests_meanwhile_are_answered(machine):
    m = machine
    restarts = int(m.show("alliance-compute.service", "NRestarts"))
    with Load(m, "killed") as load:
        before = time.time()
        m.run("systemctl", "kill", "--signal=SIGKILL", "alliance-compute.service")
        killed = (before, time.time())
        deadline = time.time() + 30
        while int(m.show("alliance-compute.service", "NRestarts")) == restarts:
            assert time.time() < deadline, "systemd did not restart the worker"
            time.sleep(0.2)
        time.sleep(2)
    load.check("kill -9 under load", killed)
    assert m.show("alliance-compute.service", "ActiveState") == "active"


def test_reload_applies_the_configuration_file_without_failing_a_request(machine):
    m = machine
    m.sh(f"""printf '%s\\n' 'image = ["cirros=9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13", "debian-12=3f1c2a9e-7d4b-4e8a-9c6f-1b2d3e4f5a60"]' >> {CONFIG}""")
    body = {"server": {"name": "from-debian", "flavor": "m1.tiny", "image": "debian-12"}}
    assert https("POST", "/servers", body, m.token)[0] == 400, "not an image before the reload"
    main_pid = m.show("alliance-compute.service", "MainPID")
    with Load(m, "reload") as load:
        m.run("systemctl", "reload", "alliance-compute.service")
        deadline = time.time() + 10
        while "read again; applied image" not in m.journal():
            assert time.time() < deadline, m.journal()[-2000:]
            time.sleep(0.2)
    load.check("systemctl reload under load")
    assert https("POST", "/servers", body, m.token)[0] == 200, "an image after it"
    assert m.show("alliance-compute.service", "MainPID") == main_pid, "reloaded, not restarted"


def test_the_postgresql_store_installed_with_its_secret_file_and_restarted_under_load(machine):
    m = machine
    cluster = PostgresCluster()
    files_token = m.token
    try:
        # The database on this host, reached over the veth pair with a password, as from an API host.
        password = secrets.token_hex(16)
        psql(cluster.url, f"CREATE ROLE alliance LOGIN PASSWORD '{password}'")
        psql(cluster.url, "CREATE DATABASE alliance OWNER alliance")
        data = cluster.directory / "data"
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '{booted.HOST_ADDRESS}'\n")
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host alliance alliance {booted.MACHINE_ADDRESS}/32 scram-sha-256\n")
        cluster.lib("stop_test_postgres")
        cluster.start()
        port = re.search(r"port=(\d+)", cluster.url).group(1)
        url = f"postgresql://alliance:{password}@{booted.HOST_ADDRESS}:{port}/alliance?connect_timeout=5"
        m.run("/srv/alliance-compute/deploy/install", "--binary", "/srv/alliance-compute-bin", "--database", url,
              timeout=600)
        assert m.run("stat", "-c", "%a %U", "/etc/alliance-compute/database.env").stdout.split() == ["600", "root"]
        m.token = m.sh("set -a; . /etc/alliance-compute/database.env; "
                       "alliance-compute token create --project ops --user pg --role admin").stdout.strip()
        status, _, body = create(m, "in-postgres")
        assert status == 200, body
        database = cluster.url.replace("postgresql:///postgres?", "postgresql:///alliance?", 1)
        assert psql(database, "SELECT name FROM servers").split() == ["in-postgres"]
        with Load(m, "pg") as load:
            for _ in range(2):
                m.run("systemctl", "restart", "alliance-compute.service")
                time.sleep(1.5)
        load.check("PostgreSQL store, systemctl restart ×2 under load")
        assert_no_refusals(m)
    finally:
        m.token = files_token
        cluster.stop()
    m.run("/srv/alliance-compute/deploy/install", "--binary", "/srv/alliance-compute-bin", "--files", timeout=600)
    assert m.run("test", "-e", "/etc/alliance-compute/database.env", check=False).returncode != 0
    assert https("GET", "/servers/existing", token=m.token)[0] == 200, "back on the data directory it had"


def test_a_worker_host_takes_nginx_over_tcp_from_its_socket_unit(machine):
    """The README's several-hosts setup: the socket unit listens on the host's address, the
    configuration file names the nginx host allowed; everything else is refused."""
    m = machine
    dropin = "/etc/systemd/system/alliance-compute.socket.d/tcp.conf"
    m.sh(f"mkdir -p {dropin.rsplit('/', 1)[0]} && printf '[Socket]\\nListenStream=\\nListenStream={booted.MACHINE_ADDRESS}:9000\\n' > {dropin}")
    m.sh(f"""printf '%s\\n' 'allow-from = ["{booted.HOST_ADDRESS}"]' >> {CONFIG}""")
    try:
        m.run("systemctl", "daemon-reload")
        m.run("systemctl", "stop", "alliance-compute.service", "alliance-compute.socket")
        m.run("systemctl", "start", "alliance-compute.socket")
        params = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/servers", "SERVER_PORT": "443", "REQUEST_SCHEME": "https",
                  "HTTP_HOST": "api", "REMOTE_ADDR": "192.0.2.7", "HTTP_X_AUTH_TOKEN": m.token}
        output = fastcgi_request((booted.MACHINE_ADDRESS, 9000), params)
        assert output.startswith(b"Status: 200"), output[:300]
        assert "serving FastCGI on systemd fd 3" in m.journal()
        assert_no_refusals(m)
    finally:
        m.run("rm", "-f", dropin)
        m.sh(f"sed -i '/^allow-from/d' {CONFIG}")
        m.run("systemctl", "daemon-reload")
        m.run("systemctl", "stop", "alliance-compute.service", "alliance-compute.socket")
        m.run("systemctl", "start", "alliance-compute.socket")
    assert https("GET", "/servers/existing", token=m.token)[0] == 200, "back on the unix socket"


def test_the_units_limits_and_exposure(machine):
    m = machine
    assert m.show("alliance-compute.service", "MemoryMax") == str(1 << 30)
    assert m.show("alliance-compute.service", "TasksMax") == "1024"
    # What could make the worker grow: many large bodies at once. nginx and the worker refuse
    # them (413) without the worker growing toward MemoryMax or being killed.
    restarts = m.show("alliance-compute.service", "NRestarts")
    results = []

    def big():
        for _ in range(10):
            results.append(https("POST", "/servers", b'{"server": {"name": "' + b"x" * 60_000 + b'"}}', m.token)[0])

    threads = [threading.Thread(target=big) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {400}, set(results)
    assert m.show("alliance-compute.service", "NRestarts") == restarts
    security = m.run("systemd-analyze", "security", "--no-pager", "alliance-compute.service").stdout
    overall = [line for line in security.splitlines() if "Overall exposure level" in line]
    print("\n".join(line for line in security.splitlines() if line.startswith("✗"))[:3000])
    print(overall[0])
    score = float(overall[0].split(":")[1].split()[0])
    assert score <= 2.0, security


def test_uninstall_keeps_the_data_and_purge_removes_it(machine):
    m = machine
    m.run("/srv/alliance-compute/deploy/uninstall", timeout=120)
    assert m.run("test", "-e", "/usr/local/bin/alliance-compute", check=False).returncode != 0
    assert m.run("test", "-e", "/etc/systemd/system/alliance-compute.service", check=False).returncode != 0
    assert m.run("test", "-e", "/etc/nginx/sites-enabled/alliance-compute", check=False).returncode != 0
    assert m.run("test", "-d", f"{DATA}/servers").returncode == 0, "the data stays"
    assert m.show("alliance-compute.socket", "LoadState") == "not-found"
    m.run("/srv/alliance-compute/deploy/uninstall", "--purge", timeout=120)
    assert m.run("test", "-e", DATA, check=False).returncode != 0
    assert m.run("id", "alliance-compute", check=False).returncode != 0
