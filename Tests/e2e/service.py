"""A real nginx in front of the real worker, on free loopback ports, for end-to-end tests.

nginx runs the production nginx.conf rendered by deploy/render-nginx (the same rendering
deploy/run-local uses); the worker is the release binary ($ALLIANCE_BIN).
"""
import grp
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("ALLIANCE_BIN", str(REPO / ".build/release/alliance-compute"))
# Which store the services use: "files" (a data directory, the default) or "postgres" (a new
# database of their own in the cluster $ALLIANCE_TEST_DATABASE_URL names; deploy/test starts one).
STORE = os.environ.get("ALLIANCE_E2E_STORE", "files")


# Started as root, deploy/render-nginx runs nginx's workers as www-data (never as root): the
# worker's socket must belong to that group, and what the workers touch must be reachable.
NGINX_GROUP = "www-data" if os.geteuid() == 0 else None


def socket_group_args():
    """The worker's options that let nginx's workers connect to the socket it creates."""
    return ["--socket-group", NGINX_GROUP] if NGINX_GROUP else []


def share_socket(path):
    """A socket made here (as systemd or spawn-fcgi would make it) for nginx's workers: 0660, their group."""
    os.chmod(path, 0o660)
    if NGINX_GROUP:
        os.chown(path, -1, grp.getgrnam(NGINX_GROUP).gr_gid)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def fault(self):
        """(name, code, message) of a Nova fault body; fails the test if it is not one."""
        body = self.json
        assert isinstance(body, dict) and len(body) == 1, f"not a fault: {self.body!r}"
        (name, inner), = body.items()
        assert set(inner) == {"code", "message"}, f"not a fault: {self.body!r}"
        return name, inner["code"], inner["message"]

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def psql(url, sql):
    """Runs SQL with psql on the database `url` names; returns its unaligned output."""
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout


class PostgresCluster:
    """A throwaway PostgreSQL cluster (deploy/lib.sh's start_test_postgres: a unix socket in its
    directory, no TCP), which a test may kill and start again. Its directory is a new one in
    /tmp (the postgres user must reach it: pytest's are private to root), removed by `stop`."""

    def __init__(self, namespace=None):
        """`namespace`: a network namespace (`ip netns`) to run it in, as on a host of its own."""
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="alliance-pg-"))
        os.chmod(self.home, 0o755)
        self.directory = self.home / "cluster"
        self.inside = ["ip", "netns", "exec", namespace] if namespace else []
        self.url = self.lib("start_test_postgres")

    def lib(self, function):
        done = subprocess.run([*self.inside, "bash", "-c", f'. "{REPO}/deploy/lib.sh"; {function} "{self.directory}"'],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{function}: {done.stderr}")
        return done.stdout.strip()

    def kill(self):
        """SIGKILL to the postmaster and every process it started, as a crash of its host."""
        postmaster = int((self.directory / "data/postmaster.pid").read_text().split()[0])
        children = [int(p.name) for p in pathlib.Path("/proc").iterdir()
                    if p.name.isdigit() and _parent(p) == postmaster]
        for pid in [postmaster, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while any(_parent(pathlib.Path(f"/proc/{pid}")) is not None for pid in [postmaster, *children]):
            time.sleep(0.01)

    def start(self):
        """Starts it again after `kill` (crash recovery) or `stop`, on the same socket."""
        self.lib("start_test_postgres")

    def stop(self):
        self.lib("stop_test_postgres")
        shutil.rmtree(self.home, ignore_errors=True)


def _parent(proc: pathlib.Path):
    """The parent PID of a live process; None when it is gone or a zombie."""
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else int(fields[1])


class Database:
    """A new database of its own in a test cluster (`cluster`, else $ALLIANCE_TEST_DATABASE_URL),
    at this release's schema (`db upgrade`, unless `upgrade` is False)."""

    def __init__(self, cluster=None, upgrade=True):
        cluster = cluster or os.environ.get("ALLIANCE_TEST_DATABASE_URL")
        assert cluster, "ALLIANCE_E2E_STORE=postgres needs ALLIANCE_TEST_DATABASE_URL (deploy/test sets both)"
        self.cluster = cluster
        self.name = f"e2e_{os.getpid()}_{time.monotonic_ns()}"
        psql(cluster, f"CREATE DATABASE {self.name}")
        self.url = cluster.replace("postgresql:///postgres?", f"postgresql:///{self.name}?", 1)
        assert self.url != cluster, f"expected postgresql:///postgres?…, got {cluster}"
        if upgrade:
            subprocess.run([BINARY, "db", "upgrade", "--database", self.url], check=True, capture_output=True)

    def sql(self, text):
        return psql(self.url, text)

    def drop(self):
        psql(self.cluster, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def until(answer, accepted, seconds=2.0):
    """`answer()` again until `accepted` of it (a change another host made reaches this one with
    the database's notification, milliseconds after the commit); returns it and the wait."""
    started = time.monotonic()
    while not accepted(reply := answer()) and time.monotonic() - started < seconds:
        time.sleep(0.002)
    return reply, time.monotonic() - started


def start_nginx(conf, http_port, stderr_path):
    """nginx in the foreground with `conf`; returns its process once it accepts on `http_port`."""
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                             stderr=open(stderr_path, "ab"), stdin=subprocess.DEVNULL)
    deadline = time.time() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
            return nginx
        except OSError:
            if nginx.poll() is not None or time.time() > deadline:
                raise RuntimeError("nginx did not start: " + pathlib.Path(stderr_path).read_text())
            time.sleep(0.02)


def stop_nginx(nginx):
    """A graceful stop (SIGQUIT: requests in progress finish)."""
    if nginx is not None and nginx.poll() is None:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=20)


class Front:
    """An HTTP client of one nginx on loopback: plain HTTP on `http_port`, HTTPS on `https_port`
    (certificate checked against `tls`), the admin `token` on every request unless told
    otherwise. A `Service` is one; so is a cluster's nginx in front of several worker hosts."""
    http_port: int
    https_port: int
    tls: ssl.SSLContext
    token: str = None

    def connection(self, scheme="http", timeout=15):
        if scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.tls, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, scheme="http", timeout=15):
        """Sends `path` byte for byte (no re-encoding); `body` may be str, bytes or a JSON-able object.
        The service's admin token goes along unless `headers` has X-Auth-Token (None: no token)."""
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        headers = dict(headers or {})
        if self.token and not any(name.lower() == "x-auth-token" for name in headers):
            headers["X-Auth-Token"] = self.token
        connection = self.connection(scheme, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                if value is not None:  # None: leave the header out
                    connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            reply = connection.getresponse()
            return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
        finally:
            connection.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw(self, data: bytes, timeout=15):
        """Sends bytes as they are to the plain-HTTP port and returns (status, headers, body)."""
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        reply = b"".join(chunks)
        head, _, body = reply.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Response(status, headers, body)

    def get_from_another_address(self, path: bytes) -> bytes:
        """GET `path` (bytes, sent as they are) from 127.0.0.2: loopback, but not "this host" to
        nginx's allow lists. Returns the raw reply."""
        with socket.create_connection(("127.0.0.1", self.http_port), source_address=("127.0.0.2", 0)) as conn:
            conn.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        return reply

    def create_server(self, name, **fields):
        server = {"name": name, "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec", "keyname": "admin-key",
                  "network": "private"}
        server.update(fields)
        return self.post("/servers", {"server": server})

    def snapshot(self):
        """The store as the API shows it: for checking that bad requests change nothing."""
        return self.get("/servers").json, self.get("/flavors").json


class Service(Front):
    def __init__(self, root: pathlib.Path, tls_dir: pathlib.Path, www: pathlib.Path = None, store: str = None,
                 database: Database = None):
        """`store`: "files" or "postgres" (default: $ALLIANCE_E2E_STORE); with "postgres", a new
        database of its own, or `database`, which another service may share (a second host)."""
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data = root / "data"
        self.owns_database = database is None and (store or STORE) == "postgres"
        self.database = database or (Database() if self.owns_database else None)
        # pytest's temporary directories are private to root: nginx's workers (www-data) could
        # not reach a socket or temporary file there.
        self.private_run = NGINX_GROUP is not None
        self.run = pathlib.Path(tempfile.mkdtemp(prefix="alliance-run-")) if self.private_run else root / "run"
        if self.private_run:
            os.chmod(self.run, 0o755)
        self.socket = self.run / "fcgi.sock"
        self.worker_log = root / "worker.log"
        self.tls_dir = tls_dir
        self.http_port = free_port()
        self.https_port = free_port()
        (self.run / "tmp").mkdir(parents=True, exist_ok=True)
        config = subprocess.run(
            [str(REPO / "deploy/render-nginx"), "--prefix", str(self.run), "--socket", str(self.socket),
             "--http-port", str(self.http_port), "--https-port", str(self.https_port), "--tls-dir", str(tls_dir),
             "--www", str(www or REPO / "deploy/www")],
            check=True, capture_output=True, text=True).stdout
        self.nginx_conf = self.run / "nginx.conf"
        self.nginx_conf.write_text(config)
        self.worker = None
        self.nginx = None
        self.tls = ssl.create_default_context(cafile=str(tls_dir / "fullchain.pem"))
        # Requests carry this admin token unless they say otherwise (made once the worker has
        # created the data directory).
        self.token = None

    # -- processes --------------------------------------------------------------------------

    def store_args(self):
        """Where the worker and the CLI find the store: --data-dir DIR or --database URL."""
        return ["--database", self.database.url] if self.database else ["--data-dir", str(self.data)]

    def start_worker(self, *extra, wait=True):
        """Starts the worker; with `wait`, returns once it serves (its store open: the socket
        listens before that) and the service's admin token exists."""
        started_before = self.log().count("serving FastCGI on")
        log = open(self.worker_log, "ab")
        self.worker = subprocess.Popen(
            [BINARY, "serve", *self.store_args(), "--socket", str(self.socket), "--threads", "4",
             *socket_group_args(), *extra],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_until_listening()
            self.wait_until_serving(started_before)
            if self.token is None:
                self.token = self.make_token("default", "e2e", "admin")
                # Tests and load generators make many servers: no quota for their project.
                self.cli("quota", "set", "--project", "default", "--instances", "-1", "--cores", "-1", "--ram", "-1")
        return self.worker

    def after_cli_change(self, answer, accepted):
        """A request right after the CLI changed a token or a quota. On files the worker sees the
        change at once; on PostgreSQL when the database's notification reaches it (milliseconds:
        the CLI is another process, like another host), so the request is made again until then."""
        return until(answer, accepted)[0] if self.database else answer()

    def cli(self, *args):
        """`alliance-compute COMMAND SUBCOMMAND --data-dir DATA …` (or `--database URL`); returns its
        standard output."""
        return subprocess.run([BINARY, *args[:2], *self.store_args(), *args[2:]], check=True,
                              capture_output=True, text=True).stdout

    def stored_token(self, token_id):
        """A token's record as the store keeps it (a file, or a row's jsonb)."""
        if self.database:
            return self.database.sql(f"SELECT record::text FROM tokens WHERE id = '{token_id}'")
        return (self.data / "tokens" / f"{token_id}.json").read_text()

    def make_token(self, project, user, role, *extra):
        """A token made the way an operator makes one: `alliance-compute token create`."""
        return self.cli("token", "create", "--project", project, "--user", user, "--role", role, *extra).strip()

    def wait_until_listening(self, timeout=15):
        """Until the socket accepts connections (a stale socket file exists but refuses them)."""
        deadline = time.time() + timeout
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(self.socket))
                return
            except OSError:
                if self.worker.poll() is not None:
                    raise RuntimeError(f"worker exited {self.worker.returncode}: {self.log()}")
                if time.time() > deadline:
                    raise RuntimeError("worker is not listening on its socket")
                time.sleep(0.02)

    def wait_until_serving(self, started_before, timeout=60):
        """Until the worker logs that it serves (once more than `started_before` times)."""
        deadline = time.time() + timeout
        while self.log().count("serving FastCGI on") <= started_before:
            if self.worker.poll() is not None:
                raise RuntimeError(f"worker exited {self.worker.returncode}: {self.log()}")
            if time.time() > deadline:
                raise RuntimeError("worker did not start serving: " + self.log()[-2000:])
            time.sleep(0.02)

    def stop_worker(self, sig=signal.SIGTERM, timeout=20):
        if self.worker is None:
            return None
        if self.worker.poll() is None:
            self.worker.send_signal(sig)
        code = self.worker.wait(timeout=timeout)
        self.worker = None
        return code

    def start_nginx(self):
        self.nginx = start_nginx(self.nginx_conf, self.http_port, self.root / "nginx.stderr")

    def stop_nginx(self):
        stop_nginx(self.nginx)
        self.nginx = None

    def start(self):
        self.start_worker()
        self.start_nginx()
        return self

    def close(self):
        self.stop_nginx()
        self.stop_worker()
        if self.private_run:
            shutil.rmtree(self.run, ignore_errors=True)
        if self.owns_database:
            self.database.drop()

    def log(self):
        return self.worker_log.read_text(errors="replace") if self.worker_log.exists() else ""


def fastcgi_record(kind, content):
    """One FastCGI record of request 1."""
    return bytes([1, kind, 0, 1, len(content) >> 8, len(content) & 0xff, 0, 0]) + content


def fastcgi_begin(params):
    """BEGIN_REQUEST (responder, no keep-conn) and the parameters: what precedes the body."""
    def pairs(items):
        out = b""
        for name, value in items.items():
            n, v = name.encode(), value.encode()
            for length in (len(n), len(v)):
                out += bytes([length]) if length < 128 else (length | 0x80000000).to_bytes(4, "big")
            out += n + v
        return out

    return fastcgi_record(1, bytes([0, 1, 0, 0, 0, 0, 0, 0])) + fastcgi_record(4, pairs(params)) + fastcgi_record(4, b"")


def fastcgi_read(connection):
    """The CGI output (STDOUT records) of a response, read until the worker closes."""
    data = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    output, offset = b"", 0
    while offset + 8 <= len(data):
        kind, length, padding = data[offset + 1], int.from_bytes(data[offset + 4:offset + 6], "big"), data[offset + 6]
        if kind == 6:  # STDOUT
            output += data[offset + 8:offset + 8 + length]
        offset += 8 + length + padding
    return output


def fastcgi_request(address, params, body=b"", timeout=15):
    """A minimal FastCGI client (responder role, one request): returns the raw CGI output.
    `address`: a unix socket's path, or (host, port) over TCP.

    Used to reach the worker without nginx, as any process with access to the socket could.
    """
    message = fastcgi_begin(params)
    for i in range(0, len(body), 65535):
        message += fastcgi_record(5, body[i:i + 65535])
    message += fastcgi_record(5, b"")
    tcp = isinstance(address, tuple)
    with socket.socket(socket.AF_INET if tcp else socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(address if tcp else str(address))
        s.sendall(message)
        return fastcgi_read(s)
