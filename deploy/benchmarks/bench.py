#!/usr/bin/env python3
"""Benchmarks of the Alliance Compute API through nginx, printed as one table.

Each read is measured beside nginx serving the same bytes as a static file, and each durable
write beside a raw 8-thread durable writer on the same disk, in the same run, so every figure
is also a ratio to its ceiling. Then the scaling run: 100,000 servers.
With --store postgres the worker's store is a PostgreSQL cluster the benchmark starts (and
stops), and the cells that compare the stores are measured on the JSON-file store too, in the
same run. Run it with deploy/bench (which builds the release worker first)."""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "Tests/e2e"))
from cluster import Cluster  # noqa: E402
from service import PostgresCluster, Service, free_port, psql, start_nginx, stop_nginx  # noqa: E402

WORKER_ARGS = ("--network", "private=10.0.0.0/12")  # room for a million servers


def wrk(service, path, connections, duration, script=None, *args, timeout=2, origin=None):
    """wrk's figures: req/s, p50 and p99 in ms, and errors (what failed, by kind). A request
    slower than `timeout` seconds is counted as failed by wrk (its default is 2 s). `origin`:
    another scheme and port than the service's plain HTTP (its HTTPS, or the bare nginx)."""
    threads = 1 if connections == 1 else 2
    origin = origin or f"http://127.0.0.1:{service.http_port}"
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s", "--latency",
               "-H", f"X-Auth-Token: {service.token}", f"{origin}{path}"]
    if script:
        command += ["-s", str(HERE / script), "--", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for message in re.findall(r"^\w+\.lua: .*$", output, re.M):  # what a script's done() reports
        print(message, file=sys.stderr)

    def latency(percentile):
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    kinds = {"non-2xx": sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))}
    for kind in ("connect", "read", "write", "timeout"):
        kinds[kind] = sum(int(n) for n in re.findall(rf"{kind} (\d+)", output))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": latency(50), "p99": latency(99), "errors": sum(kinds.values()),
            "error_kinds": {kind: n for kind, n in kinds.items() if n}}


def raw_durable_writes(directory, seconds, threads=8, size=1024):
    """The disk's ceiling for what a durable write does, measured now on the same filesystem:
    `threads` writers each writing 1 KB files as the store writes a record (temporary file,
    write, fsync, rename, fsync of the directory), with no sharing between them. Writes/s."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    body = b"x" * size
    done, stop = [0] * threads, time.monotonic() + seconds

    def writer(number):
        directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            while time.monotonic() < stop:
                name = directory / f"w{number}-{done[number] % 64}.json"
                temporary = directory / f".tmp-w{number}"
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
                os.write(fd, body)
                os.fsync(fd)
                os.close(fd)
                os.rename(temporary, name)
                os.fsync(directory_fd)
                done[number] += 1
        finally:
            os.close(directory_fd)

    started = time.monotonic()
    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rate = sum(done) / (time.monotonic() - started)
    shutil.rmtree(directory, ignore_errors=True)
    return rate


class BareNginx:
    """nginx with nothing but TLS and a root (no access log, no headers, no rules of ours): the
    ceiling for the same bytes over HTTPS, beside which both the API and our own nginx.conf
    serving them as a static file are measured."""

    def __init__(self, root, tls, www):
        root.mkdir(parents=True)
        self.http_port, self.https_port = free_port(), free_port()
        temporaries = "\n".join(f"    {kind}_temp_path {root}/{kind};" for kind in
                                ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = root / "nginx.conf"
        # As deploy/render-nginx does: started as root, the workers run as www-data.
        user = "user www-data;" if os.geteuid() == 0 else ""
        conf.write_text(f"""{user}
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temporaries}
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl;
        ssl_certificate {tls}/fullchain.pem;
        ssl_certificate_key {tls}/privkey.pem;
        root {www};
    }}
}}
""")
        self.process = start_nginx(conf, self.http_port, root / "stderr")

    @property
    def origin(self):
        return f"https://127.0.0.1:{self.https_port}"

    def close(self):
        stop_nginx(self.process)


def rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fetch(service, path):
    request = urllib.request.Request(f"http://127.0.0.1:{service.http_port}{path}",
                                     headers={"X-Auth-Token": service.token})
    with urllib.request.urlopen(request) as reply:
        return reply.read()


def multi_create(service, name, count):
    reply = service.create_server(name, min_count=count, return_reservation_id=True)
    assert reply.status == 200, reply


class Bench:
    def __init__(self, options):
        self.options = options
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="alliance-bench-"))
        self.tls = self.root / "tls"
        subprocess.run(["bash", "-c", f'. "{REPO}/deploy/lib.sh"; make_certificate "{self.tls}"'], check=True,
                       capture_output=True)
        self.www = self.root / "www"
        shutil.copytree(REPO / "deploy/www", self.www)
        (self.www / "docs/bench").mkdir()
        self.rows = []
        self.scaling = []
        self.comparison = []
        self.hosts_rows = []
        self.instances = 0
        self.cluster = None
        if options.store == "postgres":
            self.cluster = PostgresCluster()
            os.environ["ALLIANCE_TEST_DATABASE_URL"] = self.cluster.url

    def close(self):
        if self.cluster:
            self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def service(self, store=None):
        self.instances += 1
        service = Service(self.root / f"service{self.instances}", self.tls, self.www, store=store or self.options.store)
        service.start_worker(*WORKER_ARGS)
        service.start_nginx()
        # The socket listens before the store is open (a new database first records the
        # network's addresses): wait until it serves.
        while True:
            try:
                fetch(service, "/healthz")
                return service
            except OSError:
                time.sleep(0.05)

    def static_copy(self, service, name, body):
        """Puts `body` where the service's nginx serves `/docs/bench/` from (started as root,
        deploy/render-nginx serves a copy of the docs its workers can read), for the ceiling."""
        served = self.served_www(service)
        (served / "docs/bench").mkdir(parents=True, exist_ok=True)
        (served / "docs/bench" / name).write_bytes(body)
        (served / "docs/bench" / name).chmod(0o644)
        return f"/docs/bench/{name}"

    def served_www(self, service):
        return service.run / "www" if (service.run / "www").is_dir() else self.www

    def row(self, service, label, path=None, script=None, args=(), static=None, connections=(1, 32), durable=False,
            origin=None, ceiling_origin=None):
        """One scenario at each connection count, beside its ceiling: nginx serving the same bytes
        right after it (`static`; from `ceiling_origin` when given, the bare nginx), or for a
        durable write the raw 8-thread durable writer on the same disk, the mean of a run right
        before and one right after (this disk's fsync rate drifts by 2x within a minute, so one
        run beside it judged the disk's moment more than the store)."""
        for c in connections:
            if durable:
                os.sync()  # neither side pays for what the cells before left to write back
                before = raw_durable_writes(service.root / "raw-writes", self.options.duration)
            api = wrk(service, path or "/", c, self.options.duration, script, *args, origin=origin)
            if durable:
                after = raw_durable_writes(service.root / "raw-writes", self.options.duration)
                ceiling = (before + after) / 2
            else:
                ceiling = None
                if static:
                    served = wrk(service, static, c, self.options.duration, origin=ceiling_origin)
                    assert served["errors"] == 0, f"the ceiling {static} was not served: {served['error_kinds']}"
                    ceiling = served["rps"]
            self.rows.append({"scenario": label, "connections": c, **api, "rss": rss_mb(service.worker.pid),
                              "ceiling": ceiling, "ratio": api["rps"] / ceiling if ceiling else None})

    def reads_and_writes(self):
        s = self.service()
        try:
            multi_create(s, "list", 20)
            body = fetch(s, "/servers")
            list20 = (f"GET /servers (20 servers, {len(body) / 1024:.1f} KB)", "/servers",
                      self.static_copy(s, "list20.json", body))
            self.row(s, list20[0], list20[1], static=list20[2])
            one = json.loads(fetch(s, "/servers?name=list-1"))["servers"][0]["id"]
            body = fetch(s, f"/servers/{one}")
            get_one = (f"GET /servers/{{id}} ({len(body)} B)", f"/servers/{one}", self.static_copy(s, "one.json", body))
            self.row(s, get_one[0], get_one[1], static=get_one[2])
            body = fetch(s, f"/v2.1/servers/{one}")
            self.row(s, f"GET /v2.1/servers/{{id}} ({len(body)} B)", f"/v2.1/servers/{one}",
                     static=self.static_copy(s, "nova-one.json", body))
            body = fetch(s, "/flavors")
            self.row(s, f"GET /flavors ({len(body)} B)", "/flavors", static=self.static_copy(s, "flavors.json", body))
            self.https_reads(s, [list20, get_one])
            self.mixed(s, one)
            for t in (1, 2):  # wrk's threads at 32 connections: each patches servers of its own
                multi_create(s, f"patch-t{t}", 100)
            self.row(s, "PATCH /servers/{id} (durable)", script="update.lua", args=("patch", "100"), durable=True)
            for c in (1, 32):
                self.row(s, "POST /servers (durable)", script="create.lua", args=(f"new{c}",), connections=(c,),
                         durable=True)
            for c in (1, 32):
                threads = 1 if c == 1 else 2
                # Deletes ran at up to 1,500/s on one connection and 4,300/s on 32 here (group commit):
                # twice that is made beforehand (a thread that runs out reports it, and fails the run).
                rate = 3000 if c == 1 else 9000
                batches = max(2, int(self.options.duration * rate / 100 / threads) + 1)
                for t in range(1, threads + 1):
                    for b in range(batches):
                        multi_create(s, f"del{c}-t{t}-b{b}", 100)
                self.row(s, "DELETE /servers/{id} (durable)", script="delete.lua", args=(f"del{c}", str(batches)),
                         connections=(c,),
                         durable=True)
        finally:
            s.close()

    def compare_stores(self):
        """The cells the PostgreSQL store's targets are about, on both stores in this run:
        durable creates at 32 connections, and get-one at 1 and 32."""
        measured = {}
        for store in ("files", "postgres"):
            s = self.service(store)
            try:
                multi_create(s, "cmp", 20)
                one = json.loads(fetch(s, "/servers?name=cmp-1"))["servers"][0]["id"]
                d = self.options.duration
                measured[store] = {
                    "POST /servers (durable), 32 conns": wrk(s, "/", 32, d, "create.lua", f"cmp-{store}"),
                    "GET /servers/{id}, 1 conn": wrk(s, f"/servers/{one}", 1, d),
                    "GET /servers/{id}, 32 conns": wrk(s, f"/servers/{one}", 32, d),
                }
            finally:
                s.close()
        for label, target in (("POST /servers (durable), 32 conns", "≥ 3.0"), ("GET /servers/{id}, 1 conn", "≥ 0.7"),
                              ("GET /servers/{id}, 32 conns", "≥ 0.7")):
            files, postgres = measured["files"][label], measured["postgres"][label]
            self.comparison.append((label, files["rps"], postgres["rps"], postgres["rps"] / files["rps"], target))
            self.rows_errors = getattr(self, "rows_errors", 0) + files["errors"] + postgres["errors"]

    def hosts(self):
        """Through nginx to one worker host, then to two (network namespaces, TCP FastCGI, one
        PostgreSQL), in this run; then a rolling restart of both under load, which must fail
        nothing. The hosts share this machine's cores, so they share its 8 worker threads too (8
        on one host, 4 on each of two): what is compared is the cost of spreading the same work
        over hosts, not added hardware."""
        measured = {1: {}, self.options.hosts: {}}  # label -> [rps of each round]
        errors = 0
        for round_number in range(self.options.rounds):
            # Interleaved (one host, several, one, …): single runs swing ±15% on this machine.
            for count in (1, self.options.hosts):
                last = round_number == self.options.rounds - 1 and count > 1
                cluster = Cluster(self.root / f"cluster{round_number}-{count}", self.tls, workers=count,
                                  threads=8 // count).start()
                try:
                    multi_create(cluster, "hosts", 20)
                    one = json.loads(fetch(cluster, "/servers?name=hosts-1"))["servers"][0]["id"]
                    d = self.options.duration
                    cells = {
                        "GET /servers/{id}, 32 conns": wrk(cluster, f"/servers/{one}", 32, d),
                        "GET /servers (20 servers), 32 conns": wrk(cluster, "/servers", 32, d),
                        "POST /servers (durable), 32 conns": wrk(cluster, "/", 32, d, "create.lua", f"h{count}"),
                    }
                    for label, cell in cells.items():
                        measured[count].setdefault(label, []).append(cell["rps"])
                        errors += cell["errors"]
                    if last:
                        self.rolling = self.rolling_restart(cluster)
                        errors += self.rolling[1]["errors"]
                finally:
                    cluster.close()
        for label in measured[1]:
            one, many = statistics.median(measured[1][label]), statistics.median(measured[self.options.hosts][label])
            self.hosts_rows.append((label, one, many, many / one))
        self.rows_errors = getattr(self, "rows_errors", 0) + errors

    @staticmethod
    def rolling_restart(cluster):
        """Durable creates at 32 connections while each host is restarted in turn (SIGTERM, start,
        past nginx's fail_timeout before the next): (hosts restarted, wrk's figures, what nginx
        logged as errors other than the refused connects it sent on to the other host). wrk waits
        35 s for an answer, past nginx's own timeouts, so what counts as failed is what nginx
        failed, not a request that took over wrk's default 2 s."""
        restarts = [0]

        def restart_each():
            time.sleep(1)
            for host in list(cluster.workers):
                cluster.stop_worker(host)
                cluster.start_worker(host)
                restarts[0] += 1
                time.sleep(6)

        restarter = threading.Thread(target=restart_each)
        restarter.start()
        during = wrk(cluster, "/", 32, 2 + 7 * len(cluster.workers), "create.lua", "rolling", timeout=35)
        restarter.join()
        logged = (cluster.run_dir / "error.log").read_text(errors="replace").splitlines()
        errors = [line for line in logged if "[error]" in line and "(111: Connection refused)" not in line]
        return restarts[0], during, errors

    def https_reads(self, s, reads):
        """The read path production uses: HTTPS, beside a bare nginx serving the same bytes over
        HTTPS (the ceiling), and our own nginx.conf serving them as a static file over HTTPS (what
        the production configuration costs by itself, without the FastCGI hop)."""
        bare = BareNginx(self.root / f"bare{self.instances}", self.tls, self.served_www(s))
        own = f"https://127.0.0.1:{s.https_port}"
        try:
            for label, path, static in reads:
                self.row(s, f"{label} HTTPS", path, static=static, origin=own, ceiling_origin=bare.origin)
                self.row(s, "  the same bytes, static, our nginx.conf, HTTPS", static, static=static, origin=own,
                         ceiling_origin=bare.origin)
        finally:
            bare.close()

    def mixed(self, s, one):
        """Reads while writes run: 28 connections reading one server, first alone (the ceiling),
        then while 4 more create servers durably."""
        d = self.options.duration
        alone = wrk(s, f"/servers/{one}", 28, d)
        writes = {}
        writer = threading.Thread(target=lambda: writes.update(wrk(s, "/", 4, d, "create.lua", "mixed")))
        writer.start()
        reads = wrk(s, f"/servers/{one}", 28, d)
        writer.join()
        rss = rss_mb(s.worker.pid)
        self.rows.append({"scenario": "GET /servers/{id} while 4 conns create (vs alone)", "connections": 28, **reads,
                          "rss": rss, "ceiling": alone["rps"], "ratio": reads["rps"] / alone["rps"]})
        self.rows.append({"scenario": "POST /servers (durable) beside 28 readers", "connections": 4, **writes,
                          "rss": rss, "ceiling": None, "ratio": None})

    def large_list(self):
        s = self.service()
        try:
            for b in range(10):
                multi_create(s, f"big{b}", 100)
            body = fetch(s, "/servers")
            self.row(s, f"GET /servers (1000 servers: first page, {len(body) / 1024:.0f} KB)", "/servers",
                     static=self.static_copy(s, "list1000.json", body))
        finally:
            s.close()

    def scale(self):
        """Get-one, first page (limit 100) and create: a store of 100 servers beside one of
        options.scale, both running, measured in three interleaved rounds (median), so that both
        sides see the same machine; before them, start-up, RSS and size of the large one (at
        exactly options.scale: the create cells add servers)."""
        d = self.options.duration
        small, large = self.service(), self.service()
        try:
            multi_create(small, "few", 100)
            multi_create(large, "few", 100)
            started = time.time()
            count, batch = 100, 0
            while count < self.options.scale:
                n = min(100, self.options.scale - count)
                multi_create(large, f"fill{batch}", n)
                batch += 1
                count += n
            populate_seconds = time.time() - started
            os.sync()  # measure steady state, not the kernel writing back what was just populated
            # Start-up and memory first, at exactly the scale: the create cells below add servers.
            total = json.loads(fetch(large, "/healthz"))["servers"]
            startups, loads = [], []
            for _ in range(3):  # the median of three restarts: the page cache is warm after the first
                assert large.stop_worker() == 0
                started = time.time()
                large.start_worker(*WORKER_ARGS)
                # The socket listens before the records load; serving means /healthz answers.
                while True:
                    try:
                        fetch(large, "/healthz")
                        break
                    except OSError:
                        time.sleep(0.01)
                startups.append(time.time() - started)
                loads.append(float(re.findall(r"ready in ([\d.]+) s", large.log())[-1]))
            wrk(large, "/servers?limit=100", 32, d)
            rss = rss_mb(large.worker.pid)
            if large.database:
                size = int(psql(large.database.url, "SELECT pg_database_size(current_database()) / 1048576").strip())
            else:
                size = subprocess.run(["du", "-sm", str(large.data)], capture_output=True, text=True).stdout.split()[0]
            ids = {s: json.loads(fetch(s, "/servers?name=few-50"))["servers"][0]["id"] for s in (small, large)}
            cells = {}
            for what, path, script in (("get", None, None), ("page", "/servers?limit=100", None), ("create", "/", "create.lua")):
                runs = {small: [], large: []}
                for round_number in range(3):
                    for s in (small, large):
                        target = path or f"/servers/{ids[s]}"
                        args = (f"r{round_number}",) if script else ()
                        runs[s].append(wrk(s, target, 1, d, script, *args))
                cells[what] = {s: sorted(runs[s], key=lambda r: r["p50"])[1] for s in runs}
                errors = sum(r["errors"] for rs in runs.values() for r in rs)
                assert errors == 0, f"{errors} failed requests in the scaling run ({what})"
            for label, key, percentile in (("create p50 (c1)", "create", "p50"), ("get one p50 (c1)", "get", "p50"),
                                           ("first page ?limit=100 p50 (c1)", "page", "p50"),
                                           ("create p99 (c1)", "create", "p99")):
                a, b = cells[key][small][percentile], cells[key][large][percentile]
                self.scaling.append((label, f"{a:.3f} ms", f"{b:.3f} ms", f"{b / a:.2f}x"))
            self.scale_facts = {"servers": total, "populate_s": populate_seconds, "startup_s": sorted(startups)[1],
                                "loaded_s": sorted(loads)[1], "rss_mb": rss, "data_mb": int(size)}
        finally:
            small.close()
            large.close()

    def print(self):
        o = self.options
        store = "PostgreSQL 15 (a local cluster: fsync on, synchronous_commit on)" if o.store == "postgres" \
            else "JSON files"
        if self.rows:
            print(f"\nAlliance Compute API benchmark: {os.cpu_count()} cores, wrk {o.duration} s per cell "
                  f"(-t1 for 1 connection, -t2 for 32), nginx → FastCGI (unix socket) → worker with 4 threads, "
                  f"store: {store}\n")
        header = f"{'scenario':<52} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ceiling/s':>12} {'ratio':>6} {'RSS MB':>7} {'errors':>6}"
        if self.rows:
            print(header)
            print("-" * len(header))
        for r in self.rows:
            static = f"{r['ceiling']:12.0f}" if r["ceiling"] else f"{'':>12}"
            ratio = f"{r['ratio']:6.2f}" if r["ratio"] else f"{'':>6}"
            print(f"{r['scenario']:<52} {r['connections']:>5} {r['rps']:9.0f} {r['p50']:8.3f} {r['p99']:8.3f} "
                  f"{static} {ratio} {r['rss']:7.1f} {r['errors']:>6}")
        if self.scaling:
            f = self.scale_facts
            print(f"\nScaling: 100 servers vs {f['servers']:,} (populated by multi-create through nginx in "
                  f"{f['populate_s']:.0f} s), both running; median of 3 interleaved {o.duration} s runs each\n")
            print(f"{'measure':<36} {'at 100':>12} {'at ' + format(f['servers'], ','):>12} {'ratio':>7}")
            for what, small, large, ratio in self.scaling:
                print(f"{what:<36} {small:>12} {large:>12} {ratio:>7}")
            print(f"{'start-up, exec to serving (median of 3)':<36} {'':>12} {f['startup_s']:>10.2f} s")
            print(f"{'  of which opening the store':<36} {'':>12} {f['loaded_s']:>10.2f} s")
            print(f"{'worker RSS':<36} {'':>12} {f['rss_mb']:>9.1f} MB")
            print(f"{'database size' if o.store == 'postgres' else 'data directory size':<36} {'':>12} "
                  f"{f['data_mb']:>9} MB")
        if self.hosts_rows:
            print(f"\nOne worker host vs {o.hosts} (network namespaces on this machine's {os.cpu_count()} cores; nginx → "
                  f"TCP FastCGI → 8 worker threads in all; one PostgreSQL 15, fsync on), same run; req/s, median of "
                  f"{o.rounds} interleaved rounds of {o.duration} s per cell\n")
            print(f"{'measure':<40} {'1 host':>10} {f'{o.hosts} hosts':>10} {'ratio':>7}")
            for label, one, many, ratio in self.hosts_rows:
                print(f"{label:<40} {one:>10.0f} {many:>10.0f} {ratio:>6.2f}x")
            restarts, during, logged = self.rolling
            print(f"\nrolling restart of {restarts} hosts under 32 connections of durable creates: "
                  f"{during['rps']:.0f} req/s, p99 {during['p99']:.0f} ms, {during['errors']} failed requests "
                  f"{during['error_kinds'] or ''}")
            for line in logged[:10]:
                print(f"  nginx: {line}")
        if self.comparison:
            print("\nPostgreSQL vs the JSON-file store, same run (req/s)\n")
            print(f"{'measure':<36} {'JSON files':>12} {'PostgreSQL':>12} {'ratio':>7} {'target':>8}")
            for label, files, postgres, ratio, target in self.comparison:
                print(f"{label:<36} {files:>12.0f} {postgres:>12.0f} {ratio:>6.2f}x {target:>8}")

    def report(self):
        """Prints the table; 1 if a request failed."""
        self.print()
        if self.failed():
            print(f"\n{self.failed()} requests failed", file=sys.stderr)
            return 1
        return 0

    def failed(self):
        return sum(r["errors"] for r in self.rows) + getattr(self, "rows_errors", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk cell (default 5)")
    parser.add_argument("--scale", type=int, default=100_000, help="servers for the scaling run (default 100000)")
    parser.add_argument("--skip-scaling", action="store_true",
                        help="only the table of requests: no run to --scale servers (start-up, RSS, latency at 100k)")
    parser.add_argument("--store", choices=["files", "postgres"], default="files",
                        help="the worker's store (postgres: a cluster the benchmark starts; default files)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="with --hosts: interleaved rounds, one host then several, whose medians are shown (default 4)")
    parser.add_argument("--hosts", type=int, default=0,
                        help="instead: one worker host vs this many (2), each in a network namespace of its own, "
                             "on one PostgreSQL, plus a rolling restart under load (needs root)")
    options = parser.parse_args()
    bench = Bench(options)
    try:
        if options.hosts:
            bench.hosts()
            return bench.report()
        bench.reads_and_writes()
        bench.large_list()
        if not options.skip_scaling:
            bench.scale()
        if options.store == "postgres":
            bench.compare_stores()
    finally:
        bench.close()
    return bench.report()


if __name__ == "__main__":
    sys.exit(main())
