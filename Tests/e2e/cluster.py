"""Several API hosts on one PostgreSQL, built from Linux network namespaces on this machine.

    db  10.232.N.10   PostgreSQL, over TCP with a password (and its unix socket, for the test's psql)
    w1  10.232.N.11   a worker: serve --bind tcp:10.232.N.11:9000 --allow-from 10.232.N.1
    w2  10.232.N.12   the same
    (this host) 10.232.N.1 on a bridge joining them: nginx, rendered by deploy/render-nginx with
                      --upstream for both workers, on loopback ports as in the other tests

Every process is started and stopped by PID; `close()` removes the namespaces and the bridge,
also after a failed test. Addresses exist only inside these namespaces and on the bridge.
"""
import os
import pathlib
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

from service import BINARY, REPO, Front, PostgresCluster, free_port, psql, start_nginx, stop_nginx

# A subnet per test process, so two suites running at once on one machine stay apart.
SUBNET = f"10.232.{os.getpid() % 200 + 20}"
NGINX_ADDRESS = f"{SUBNET}.1"
PORT = 9000


def unavailable():
    """Why the cluster cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "ip netns does not work here"
    return None


class Cluster(Front):
    def __init__(self, root: pathlib.Path, tls_dir: pathlib.Path, workers=2, threads=8):
        self.root = root
        self.threads = threads
        root.mkdir(parents=True, exist_ok=True)
        self.tag = f"ac{os.getpid() % 10000}"
        self.bridge = f"{self.tag}br"
        self.namespaces = []
        self.workers = {}  # name -> Popen
        self.addresses = {"db": f"{SUBNET}.10", **{f"w{i}": f"{SUBNET}.{10 + i}" for i in range(1, workers + 1)}}
        self.database_cluster = None
        self.run_dir = None
        self.nginx = None
        self.token = None
        self.tls_dir = tls_dir
        self.tls = ssl.create_default_context(cafile=str(tls_dir / "fullchain.pem"))
        self.http_port, self.https_port = free_port(), free_port()

    # -- the network ----------------------------------------------------------------------------

    def namespace(self, host):
        return f"{self.tag}{host}"

    def _network(self):
        self._ip("link", "add", self.bridge, "type", "bridge")
        self._ip("addr", "add", f"{NGINX_ADDRESS}/24", "dev", self.bridge)
        self._ip("link", "set", self.bridge, "up")
        for host, address in self.addresses.items():
            namespace = self.namespace(host)
            self._ip("netns", "add", namespace)
            self.namespaces.append(namespace)
            outside, inside = f"{namespace}o", f"{namespace}i"
            self._ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            self._ip("link", "set", outside, "master", self.bridge, "up")
            self._ip("link", "set", inside, "netns", namespace)
            self._ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            self._ip("-n", namespace, "link", "set", inside, "up")
            self._ip("-n", namespace, "link", "set", "lo", "up")

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def inside(self, host, *command, **kw):
        """Runs a command on `host` (in its namespace); returns the finished process."""
        return subprocess.run(["ip", "netns", "exec", self.namespace(host), *command], capture_output=True, text=True,
                              **kw)

    # -- the database ---------------------------------------------------------------------------

    def _database(self):
        """PostgreSQL on host db: the test cluster, then TCP on its address with a password."""
        self.database_cluster = PostgresCluster(namespace=self.namespace("db"))
        password = secrets.token_hex(16)
        psql(self.database_cluster.url, f"CREATE ROLE alliance LOGIN PASSWORD '{password}'")
        psql(self.database_cluster.url, "CREATE DATABASE alliance OWNER alliance")
        data = self.database_cluster.directory / "data"
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '{self.addresses['db']}'\n")
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host alliance alliance {SUBNET}.0/24 scram-sha-256\n")
        self.stop_database()
        self.start_database()
        port = re.search(r"port=(\d+)", self.database_cluster.url).group(1)
        self.database_url = (f"postgresql://alliance:{password}@{self.addresses['db']}:{port}/alliance"
                             "?connect_timeout=3")
        self.local_database_url = self.database_cluster.url.replace("postgresql:///postgres?",
                                                                    "postgresql:///alliance?", 1)
        self.cli("db", "upgrade")

    def stop_database(self):
        self.database_cluster.lib("stop_test_postgres")

    def start_database(self):
        self.database_cluster.start()

    @property
    def database(self):
        """What crash_test's checks read the store with: `.sql(text)`."""
        cluster = self

        class Handle:
            def sql(self, text):
                return psql(cluster.local_database_url, text)
        return Handle()

    def cli(self, *args, host="w1"):
        """`alliance-compute COMMAND …` on `host`, against the database over the network."""
        done = self.inside(host, BINARY, *args, "--database", self.database_url)
        if done.returncode != 0:
            raise RuntimeError(f"{args}: {done.stderr}")
        return done.stdout

    # -- workers and nginx ----------------------------------------------------------------------

    def worker_log(self, host):
        path = self.root / f"{host}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_worker(self, host, timeout=30):
        """The worker on `host`; returns once it serves."""
        before = self.worker_log(host).count("serving FastCGI on")
        log = open(self.root / f"{host}.log", "ab")
        self.workers[host] = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace(host), BINARY, "serve", "--database", self.database_url,
             "--bind", f"tcp:{self.addresses[host]}:{PORT}", "--allow-from", NGINX_ADDRESS, "--threads", str(self.threads),
             "--network", "private=10.0.0.0/16"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while self.worker_log(host).count("serving FastCGI on") <= before:
            if self.workers[host].poll() is not None or time.time() > deadline:
                raise RuntimeError(f"worker {host} did not start: {self.worker_log(host)[-3000:]}")
            time.sleep(0.02)

    def stop_worker(self, host, sig=signal.SIGTERM):
        worker = self.workers.pop(host, None)
        if worker is not None and worker.poll() is None:
            worker.send_signal(sig)
            worker.wait(timeout=30)

    def start(self):
        try:
            self._network()
            self._database()
            for host in self.addresses:
                if host != "db":
                    self.start_worker(host)
            run = pathlib.Path(tempfile.mkdtemp(prefix="alliance-cluster-"))
            os.chmod(run, 0o755)
            self.run_dir = run
            (run / "tmp").mkdir()
            upstreams = [arg for host in self.workers for arg in ("--upstream", f"{self.addresses[host]}:{PORT}")]
            config = subprocess.run(
                [str(REPO / "deploy/render-nginx"), "--prefix", str(run), *upstreams, "--http-port",
                 str(self.http_port), "--https-port", str(self.https_port), "--tls-dir", str(self.tls_dir)],
                check=True, capture_output=True, text=True).stdout
            (run / "nginx.conf").write_text(config)
            self.nginx = start_nginx(run / "nginx.conf", self.http_port, self.root / "nginx.stderr")
            self.token = self.cli("token", "create", "--project", "default", "--user", "cluster", "--role",
                                  "admin").strip()
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        stop_nginx(self.nginx)
        self.nginx = None
        for host in list(self.workers):
            self.stop_worker(host, signal.SIGKILL)
        if self.database_cluster:
            self.database_cluster.stop()
            self.database_cluster = None
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        self.namespaces = []
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
