"""Two API hosts behind nginx on one PostgreSQL, each in a network namespace of its own
(Tests/e2e/cluster.py), under load and faults: a host killed, the database stopped, a rolling
restart, a race through two hosts, a token across hosts, and a peer the allow-list refuses."""
import itertools
import json
import os
import random
import signal
import threading
import time

import pytest

import crash_test
from cluster import NGINX_ADDRESS, PORT, Cluster, unavailable
from service import BINARY, fastcgi_begin, fastcgi_record, fastcgi_request

# Outside deploy/test (which requires them), a machine without root's namespaces skips these,
# saying why.
pytestmark = pytest.mark.skipif(unavailable() is not None and not os.environ.get("ALLIANCE_REQUIRE_ROOT_TESTS"),
                                reason=str(unavailable()))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tls_dir):
    if reason := unavailable():
        raise RuntimeError(f"ALLIANCE_REQUIRE_ROOT_TESTS is set, but the cluster cannot run here: {reason}")
    c = Cluster(tmp_path_factory.mktemp("cluster"), tls_dir).start()
    yield c
    c.close()


def direct(c, host, method, path, body=b"", token=None):
    """A request straight to `host`'s worker over TCP FastCGI, as nginx sends it (from nginx's
    address, which the worker allows): (status, JSON body)."""
    params = {"REQUEST_METHOD": method, "REQUEST_URI": path, "SERVER_PORT": "443", "REQUEST_SCHEME": "https",
              "HTTP_HOST": "cluster", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)),
              "CONTENT_TYPE": "application/json", "HTTP_X_AUTH_TOKEN": token or c.token}
    output = fastcgi_request((c.addresses[host], PORT), params, body)
    head, _, payload = output.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split()[1])
    return status, json.loads(payload) if payload else None


class Traffic:
    """Readers through nginx, beside crash_test's writers; every read's outcome kept. Each
    Traffic's writers have numbers (and so names) of their own."""

    numbers = itertools.count()

    def __init__(self, c, readers=8, writers=24, seed=None):
        self.c = c
        self.rng = random.Random(seed)
        self.writers = [crash_test.Client(next(self.numbers)) for _ in range(writers)]
        for writer in self.writers:
            writer.retried_deletes_answer_404 = True
        self.reads, self.read_failures, self.slowest = 0, [], 0.0
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=w.run, args=(c, self.stop, random.Random(self.rng.random())))
                        for w in self.writers]
        self.threads += [threading.Thread(target=self.read) for _ in range(readers)]

    def read(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                reply = self.c.get("/servers?limit=10", timeout=60)
                status, body = reply.status, reply.body
            except OSError as error:
                status, body = 0, repr(error).encode()
            took = time.monotonic() - started
            with self.lock:
                self.reads += 1
                self.slowest = max(self.slowest, took)
                if status != 200:
                    self.read_failures.append((status, body[:200]))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def verify(self, what):
        """Every acknowledged write there, every ambiguous one whole or absent, no duplicates."""
        servers, problems = crash_test.inspect_store(self.c)
        mine = {f"c{w.number}" for w in self.writers}
        lost, torn = crash_test.verify(self.writers, [s for s in servers if s["name"].split("-")[0] in mine])
        acknowledged = sum(w.acknowledged for w in self.writers)
        ambiguous = sum(w.ambiguous for w in self.writers)
        unexpected = [u for w in self.writers for u in w.unexpected]
        retried = sum(w.deleted_before_a_retry for w in self.writers)
        print(f"{what}: reads {self.reads} (failed {len(self.read_failures)}), acknowledged writes {acknowledged}, "
              f"ambiguous {ambiguous}, deletes retried on the other host (404) {retried}, lost {lost}, "
              f"torn {torn + problems['torn']}, "
              f"duplicates {problems['duplicates']}")
        assert unexpected == [], unexpected[:5]
        assert (lost, torn + problems["torn"], problems["duplicates"]) == (0, 0, 0)
        return acknowledged, ambiguous


def served_by(c, host):
    return c.worker_log(host).count(" GET /servers?limit=10 ")


def test_a_worker_host_killed_under_load_loses_nothing_and_rejoins(cluster):
    c = cluster
    rng = random.Random()
    with Traffic(c) as traffic:
        time.sleep(rng.uniform(0.3, 1.5))
        c.stop_worker("w1", signal.SIGKILL)
        time.sleep(2)  # failover: w2 serves everything
    assert traffic.read_failures == [], f"reads failed over: {traffic.read_failures[:5]}"
    traffic.verify("kill -9 of one of two hosts under 32 clients")
    c.start_worker("w1")
    before = served_by(c, "w1")
    deadline = time.time() + 15  # nginx tries it again after fail_timeout (5 s)
    while served_by(c, "w1") == before:
        assert time.time() < deadline, "the restarted host never got a request"
        assert c.get("/servers?limit=10").status == 200
        time.sleep(0.05)


def test_the_same_name_at_the_same_instant_through_two_hosts_wins_once(cluster):
    c = cluster
    outcomes = []
    for attempt in range(20):
        name = f"race-{attempt}"
        body = json.dumps({"server": {"name": name, "flavor": "m1.tiny", "image": "cirros"}}).encode()
        start = threading.Barrier(2)
        results = {}

        def create(host):
            start.wait()
            results[host] = direct(c, host, "POST", "/servers", body)[0]

        threads = [threading.Thread(target=create, args=(host,)) for host in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes.append(sorted(results.values()))
    print(f"20 races of one name through two hosts: {sum(o == [200, 409] for o in outcomes)} with one 200 and one 409")
    assert all(outcome == [200, 409] for outcome in outcomes), outcomes


def test_a_token_made_on_one_host_works_on_the_other_and_a_revoke_on_either_counts(cluster):
    c = cluster
    token = c.cli("token", "create", "--project", "web", "--user", "ann", "--role", "member", host="w1").strip()
    assert direct(c, "w2", "GET", "/servers", token=token)[0] == 200, "on the next request"
    c.cli("token", "revoke", token.split(".")[0], host="w2")
    for host in ("w1", "w2"):
        deadline = time.monotonic() + 2
        while (status := direct(c, host, "GET", "/servers", token=token)[0]) == 200 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert status == 401, host


def test_the_database_stopped_under_load_is_a_json_503_and_service_resumes(cluster):
    c = cluster
    pids = {host: worker.pid for host, worker in c.workers.items()}
    answers, lock, stop = {}, threading.Lock(), threading.Event()
    slowest = [0.0]

    def client(number):
        sequence = 0
        while not stop.is_set():
            sequence += 1
            started = time.monotonic()
            try:
                if sequence % 3 == 0:
                    reply = c.create_server(f"outage-{number}-{sequence}")
                else:
                    reply = c.get("/servers?limit=5", timeout=60)
                key = (reply.status, reply.headers.get("content-type", ""))
            except OSError as error:
                key = (0, repr(error))
            with lock:
                answers[key] = answers.get(key, 0) + 1
                slowest[0] = max(slowest[0], time.monotonic() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    c.stop_database()
    time.sleep(3)
    outage = dict(answers)
    c.start_database()
    returned = time.monotonic()
    while c.get("/servers?limit=1").status != 200:
        assert time.monotonic() - returned < 15, "service did not resume"
        time.sleep(0.05)
    resumed = time.monotonic() - returned
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join()
    print(f"database stopped 3 s under 16 clients: answers {answers}; slowest {slowest[0]:.2f} s; "
          f"served again {resumed:.2f} s after it returned")
    assert any(status == 503 for status, _ in outage), f"the outage was noticed: {outage}"
    assert {status for status, _ in answers} <= {200, 503}, answers
    assert all(kind.startswith("application/json") for _, kind in answers), answers
    assert slowest[0] < 30, "never a hang past nginx's fastcgi_read_timeout"
    assert {host: worker.pid for host, worker in c.workers.items()} == pids, "no worker restarted"
    assert all(worker.poll() is None for worker in c.workers.values())


def test_a_rolling_restart_under_load_fails_no_request(cluster):
    c = cluster
    with Traffic(c, readers=8, writers=8) as traffic:
        for host in ("w1", "w2"):
            c.stop_worker(host)  # SIGTERM: requests in progress finish
            c.start_worker(host)
            time.sleep(6)  # past nginx's fail_timeout, so the host is back before the next one goes
    assert traffic.read_failures == [], traffic.read_failures[:5]
    acknowledged, ambiguous = traffic.verify("rolling restart of both hosts under 16 clients")
    assert ambiguous == 0, "no write failed"


def test_the_tcp_socket_serves_nginx_only_and_an_open_one_needs_an_allow_list(cluster):
    c = cluster
    # From the database's host, which is on the same network but is not nginx: closed unanswered.
    probe = ("import socket, sys; s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); "
             "s.sendall(sys.stdin.buffer.read()); print(len(s.recv(65536)))")
    message = fastcgi_begin({"REQUEST_METHOD": "GET", "REQUEST_URI": "/healthz", "ALLIANCE_STATUS_ACCESS": "granted",
                             "REQUEST_SCHEME": "http", "SERVER_PORT": "80"}) + fastcgi_record(5, b"")
    done = c.inside("db", "python3", "-c", probe, c.addresses["w1"], str(PORT), input=message.decode("latin-1"))
    assert done.stdout.strip() in ("0", ""), done
    assert f"refused a FastCGI connection from {c.addresses['db']}: not in --allow-from" in c.worker_log("w1")
    assert direct(c, "w1", "GET", "/servers")[0] == 200, f"nginx's address ({NGINX_ADDRESS}) is served"
    refused = c.inside("w1", BINARY, "serve", "--database", c.database_url, "--bind", f"tcp:{c.addresses['w1']}:9001")
    assert refused.returncode == 64 and "give --allow-from" in refused.stderr, refused
