#!/usr/bin/env python3
"""Crash test: clients write through nginx while the worker (or the database) is killed with
SIGKILL at random instants, then restarted; after every restart the store must hold every
acknowledged write, nothing half-made, unique names and addresses, and only records that parse.

    python3 Tests/e2e/crash_test.py --rounds 100      (deploy/crash-test wraps this)
    python3 Tests/e2e/crash_test.py --store postgres --kill database

With --store postgres the test starts a PostgreSQL cluster of its own (deploy/lib.sh's
start_test_postgres, in its temporary directory) and stops it at the end; --kill database
kills its postmaster and every backend (as a crash of the database host would) while the
worker keeps running, then starts the cluster again (crash recovery) and waits for the
worker to reach it.

Each client owns slots of its own names, so it knows what the store must hold: a 2xx makes
a slot certain; any other outcome of a write that may have reached the worker (a 502, a
reset connection) leaves the slot with the possible states, resolved against the store after
the restart. Multi-creates must come back whole or not at all.

Prints: rounds, acknowledged writes, lost, torn, duplicates (and exits 1 unless all three are 0).
"""
import argparse
import json
import os
import pathlib
import random
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from service import REPO, PostgresCluster, Service  # noqa: E402

SLOTS = 3
GROUP = 4  # servers per multi-create
ABSENT = ("absent",)


class Client:
    """One client's slots. A slot is a certain state, or a set of possible ones."""

    # Behind several hosts, nginx sends a DELETE that was in progress on a host that died to the
    # next host (DELETE is idempotent): a 404 then means the first host had deleted it, since
    # only this client uses its servers. With one host a 404 is never expected.
    retried_deletes_answer_404 = False

    def __init__(self, number):
        self.number = number
        self.slots = [{"state": ABSENT, "possible": None, "generation": 0} for _ in range(SLOTS)]
        self.groups = []  # [{"base", "ids", "possible"}]: multi-creates of GROUP servers
        self.acknowledged = 0
        self.ambiguous = 0
        self.deleted_before_a_retry = 0
        self.unexpected = []

    def name(self, slot, generation):
        return f"c{self.number}-s{slot}-g{generation}"

    def run(self, service, stop, rng):
        while not stop.is_set():
            certain = [i for i, slot in enumerate(self.slots) if slot["possible"] is None]
            if rng.random() < 0.12:
                self.multi_create(service)
                continue
            if not certain:
                return
            self.step(service, rng.choice(certain), rng)

    def write(self, call):
        """(status, body) or (None, None) when the connection failed."""
        try:
            reply = call()
            return reply.status, reply
        except (OSError, ValueError):
            return None, None

    def step(self, service, index, rng):
        slot = self.slots[index]
        state = slot["state"]
        if state == ABSENT:
            slot["generation"] += 1
            name = self.name(index, slot["generation"])
            status, reply = self.write(lambda: service.create_server(name))
            if status == 200:
                slot["state"] = ("present", reply.json["server"]["id"], name)
                self.acknowledged += 1
            elif status in (None, 502, 503, 504):
                slot["possible"] = [ABSENT, ("present", None, name)]
                self.ambiguous += 1
            else:
                self.unexpected.append(("create", status, reply))
            return
        _, server_id, name = state
        if rng.random() < 0.6:
            slot["generation"] += 1
            new_name = self.name(index, slot["generation"])
            status, reply = self.write(
                lambda: service.patch(f"/servers/{server_id}", {"server": {"new_name": new_name}}))
            if status == 200:
                slot["state"] = ("present", server_id, new_name)
                self.acknowledged += 1
            elif status in (None, 502, 503, 504):
                slot["possible"] = [state, ("present", server_id, new_name)]
                self.ambiguous += 1
            else:
                self.unexpected.append(("rename", status, reply))
        else:
            status, reply = self.write(lambda: service.delete(f"/servers/{server_id}"))
            if status == 204:
                slot["state"] = ABSENT
                self.acknowledged += 1
            elif status == 404 and self.retried_deletes_answer_404:
                slot["state"] = ABSENT
                self.deleted_before_a_retry += 1
            elif status in (None, 502, 503, 504):
                slot["possible"] = [state, ABSENT]
                self.ambiguous += 1
            else:
                self.unexpected.append(("delete", status, reply))

    def multi_create(self, service):
        base = f"c{self.number}-m{len(self.groups)}"
        status, reply = self.write(lambda: service.create_server(base, min_count=GROUP))
        if status == 200:
            self.groups.append({"base": base, "ids": [s["id"] for s in reply.json["servers"]], "possible": False})
            self.acknowledged += 1
        elif status in (None, 502, 503, 504):
            self.groups.append({"base": base, "ids": None, "possible": True})
            self.ambiguous += 1
        else:
            self.unexpected.append(("multi-create", status, reply))


def inspect_store(service):
    """Everything the verification needs, counting (not asserting) what is wrong."""
    servers, href = [], "/servers?limit=1000"
    while href:
        reply = service.get(href)
        assert reply.status == 200, f"listing after a restart: {reply!r}"
        page = reply.json
        servers += page["servers"]
        href = page["servers_links"][0]["href"] if "servers_links" in page else None
    problems = {"torn": 0, "duplicates": 0}
    names = [s["name"] for s in servers]
    problems["duplicates"] += len(names) - len(set(names))
    addresses = [a["addr"] for s in servers for net in s["addresses"].values() for a in net]
    problems["duplicates"] += len(addresses) - len(set(addresses))
    if service.database:
        problems["torn"] += inconsistent_rows(service.database, {s["id"] for s in servers})
        return servers, problems
    files, tombstones = set(), set()
    for path in (service.data / "servers").iterdir():
        try:
            record = json.loads(path.read_text())
            # What is kept of a deleted server (for changes-since) is not a server.
            (files if record.get("deleted") is None else tombstones).add(record["id"])
        except (ValueError, KeyError):
            problems["torn"] += 1
    listed = {s["id"] for s in servers}
    problems["torn"] += len(files ^ listed) + len(tombstones & listed)
    problems["torn"] += len(list((service.data / "damaged").iterdir()))
    problems["torn"] += len(list((service.data / "intents").iterdir()))
    return servers, problems


def inconsistent_rows(database, listed_ids):
    """Rows whose columns disagree with their record, addresses held by no server (or a server's
    address not held for it), servers both live and deleted, and rows the API did not list."""
    counts = database.sql("""
        SELECT (SELECT count(*) FROM servers
                WHERE record->>'id' <> id OR record->>'name' <> name OR (record->>'version')::int <> version)
             + (SELECT count(*) FROM servers s WHERE s.network IS NOT NULL AND NOT EXISTS
                  (SELECT 1 FROM addresses a WHERE a.network = s.network AND a.address = s.address
                   AND a.server_id = s.id))
             + (SELECT count(*) FROM addresses a WHERE a.server_id IS NOT NULL AND NOT EXISTS
                  (SELECT 1 FROM servers s WHERE s.id = a.server_id AND s.network = a.network
                   AND s.address = a.address))
             + (SELECT count(*) FROM deleted_servers d JOIN servers s USING (id))
        """)
    stored_ids = set(database.sql("SELECT id FROM servers").split())
    return int(counts.strip()) + len(stored_ids ^ listed_ids)


def wait_until_serving(service, timeout=60):
    """Until a listing works (the worker has opened its store, or reconnected to a restarted
    database)."""
    deadline = time.time() + timeout
    while True:
        try:
            if service.get("/servers?limit=1").status == 200:
                return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError("the worker did not serve again after the database restarted: " + service.log()[-6000:])
        time.sleep(0.05)


def verify(clients, servers):
    """Compares the store with what the clients know; resolves ambiguous slots. Returns (lost, torn)."""
    by_id = {s["id"]: s for s in servers}
    by_name = {s["name"]: s for s in servers}
    explained = set()
    lost = torn = 0
    for client in clients:
        for index, slot in enumerate(client.slots):
            prefix = f"c{client.number}-s{index}-"
            present = [s for s in servers if s["name"].startswith(prefix)]
            if len(present) > 1:
                torn += len(present) - 1
            actual = ("present", present[0]["id"], present[0]["name"]) if present else ABSENT
            explained.update(s["id"] for s in present)
            if slot["possible"] is None:
                if actual != slot["state"]:
                    lost += 1
            else:
                matches = [p for p in slot["possible"]
                           if p == actual or (p[0] == "present" and p[1] is None and actual[0] == "present"
                                              and actual[2] == p[2])]
                if not matches:
                    torn += 1
                slot["state"], slot["possible"] = actual, None
        for group in client.groups:
            members = [by_name.get(f"{group['base']}-{i}") for i in range(1, GROUP + 1)]
            found = [m for m in members if m is not None]
            explained.update(m["id"] for m in found)
            if group["possible"]:
                if len(found) not in (0, GROUP):
                    torn += 1  # half-made
                group["ids"] = [m["id"] for m in found] if found else []
                group["possible"] = False
            else:
                lost += sum(1 for i in group["ids"] if i not in by_id)
    torn += len(set(by_id) - explained)
    return lost, torn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--store", choices=["files", "postgres"], default="files")
    parser.add_argument("--kill", choices=["worker", "database"], default="worker",
                        help="what is killed each round (database: with --store postgres)")
    options = parser.parse_args(argv)
    if options.kill == "database" and options.store != "postgres":
        parser.error("--kill database needs --store postgres")
    rng = random.Random(options.seed)

    with tempfile.TemporaryDirectory(prefix="alliance-crash-") as root:
        root = pathlib.Path(root)
        tls = root / "tls"
        os.system(f'bash -c \'. "{REPO}/deploy/lib.sh"; make_certificate "{tls}"\' 2>/dev/null')
        cluster = None
        if options.store == "postgres":
            cluster = PostgresCluster()
            os.environ["ALLIANCE_TEST_DATABASE_URL"] = cluster.url
        service = Service(root, tls, store=options.store)
        service.start_worker("--network", "private=10.0.0.0/16", "--threads", "8")
        service.start_nginx()
        # The socket listens before the store is open (a new database first records the
        # network's 65,534 addresses): kill nothing before the worker serves.
        wait_until_serving(service)
        clients = [Client(i) for i in range(options.clients)]
        totals = {"lost": 0, "torn": 0, "duplicates": 0}
        try:
            for round_number in range(1, options.rounds + 1):
                stop = threading.Event()
                threads = [threading.Thread(target=c.run, args=(service, stop, random.Random(rng.random())))
                           for c in clients]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0.05, 0.6))
                if options.kill == "database":
                    cluster.kill()
                    time.sleep(rng.uniform(0.05, 0.3))  # the worker answers 503 meanwhile
                    stop.set()
                    for t in threads:
                        t.join()
                    cluster.start()
                    wait_until_serving(service)
                else:
                    service.stop_worker(signal.SIGKILL)
                    stop.set()
                    for t in threads:
                        t.join()
                    service.start_worker("--network", "private=10.0.0.0/16", "--threads", "8")
                servers, problems = inspect_store(service)
                lost, torn = verify(clients, servers)
                totals["lost"] += lost
                totals["torn"] += torn + problems["torn"]
                totals["duplicates"] += problems["duplicates"]
                if not options.quiet:
                    print(f"round {round_number}: {len(servers)} servers, lost {lost}, "
                          f"torn {torn + problems['torn']}, duplicates {problems['duplicates']}", flush=True)
        finally:
            service.close()
            if cluster:
                cluster.stop()
        acknowledged = sum(c.acknowledged for c in clients)
        ambiguous = sum(c.ambiguous for c in clients)
        unexpected = [u for c in clients for u in c.unexpected]
        for what, status, reply in unexpected[:5]:
            print(f"unexpected reply to a {what}: {status} {reply!r}", file=sys.stderr)
        print(f"{options.store}, killing the {options.kill}: rounds {options.rounds}, acknowledged writes {acknowledged}, lost {totals['lost']}, "
              f"torn {totals['torn']}, duplicates {totals['duplicates']} "
              f"(ambiguous {ambiguous}, clients {options.clients}, seed {options.seed})")
        failed = totals["lost"] or totals["torn"] or totals["duplicates"] or unexpected
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
