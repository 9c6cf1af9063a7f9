"""32 clients racing through nginx; the store's invariants are checked after each race."""
import threading
from collections import Counter

from invariants import check_store

CLIENTS = 32


def race(action, count=CLIENTS):
    """Runs action(i) on `count` threads released together; returns their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = action(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_creates_of_one_name_have_one_winner(service):
    replies = race(lambda i: service.create_server("contested"))
    assert Counter(r.status for r in replies) == {200: 1, 409: CLIENTS - 1}
    assert all(r.fault[0] == "conflictingRequest" for r in replies if r.status == 409)
    assert [s["name"] for s in check_store(service)].count("contested") == 1
    assert service.delete("/servers/contested").status == 204


def test_racing_renames_into_each_others_names(service):
    names = [f"ring-{i}" for i in range(CLIENTS)]
    for name in names:
        assert service.create_server(name).status == 200
    # Everyone renames their server to the next one's name (taken unless that one moved first),
    # and half of them also race for one common name.
    replies = race(lambda i: service.patch(f"/servers/ring-{i}", {"server": {"new_name": f"ring-{(i + 1) % CLIENTS}"}}))
    assert all(r.status in (200, 409) for r in replies), replies
    ids = [s["id"] for s in check_store(service)][:CLIENTS // 2]
    common = race(lambda i: service.patch(f"/servers/{ids[i]}", {"server": {"new_name": "the-one"}}), count=len(ids))
    assert Counter(r.status for r in common) == {200: 1, 409: len(ids) - 1}
    servers = check_store(service)
    assert len([s for s in servers if s["name"].startswith("ring-") or s["name"] == "the-one"]) == CLIENTS
    for s in servers:
        service.delete(f"/servers/{s['id']}")


def test_racing_deletes_of_one_server(service):
    server = service.create_server("doomed").json["server"]
    replies = race(lambda i: service.delete(f"/servers/{server['id']}"))
    assert Counter(r.status for r in replies) == {204: 1, 404: CLIENTS - 1}
    assert check_store(service) == []


def test_racing_multi_creates_with_overlapping_names(service):
    # Client i asks for 1 + i % 4 servers named "grid": "grid" alone, or grid-1 … grid-k.
    replies = race(lambda i: service.create_server("grid", min_count=1 + i % 4))
    winners = [r for r in replies if r.status == 200]
    assert all(r.status in (200, 409) for r in replies), replies
    # Every multi-create includes grid-1, so exactly one of them wins, and one single create.
    assert len(winners) == 2
    servers = check_store(service)
    reservations = Counter(s["reservation_id"] for s in servers)
    for reply in winners:
        body = reply.json
        created = body["servers"] if "servers" in body else [body["server"]]
        assert reservations[created[0]["reservation_id"]] == len(created), "all of a reservation or none"
    for s in servers:
        service.delete(f"/servers/{s['id']}")


def test_concurrent_mixed_load_keeps_every_invariant(service):
    def work(i):
        statuses = []
        for n in range(10):
            statuses.append(service.create_server(f"mix-{i}-{n}").status)
            statuses.append(service.patch(f"/servers/mix-{i}-{n}", {"server": {"new_name": f"mixed-{i}-{n}"}}).status)
            if n % 2:
                statuses.append(service.delete(f"/servers/mixed-{i}-{n}").status)
        return statuses

    results = race(work)
    assert all(status in (200, 204) for statuses in results for status in statuses)
    servers = check_store(service)
    assert len(servers) == CLIENTS * 5
    addresses = {int(s["addresses"]["private"][0]["addr"].split(".")[-1]) for s in servers}
    assert len(addresses) == len(servers), "each address once"
    # Deletes at the end of the race may leave holes below addresses still held; the next
    # create takes the lowest of them.
    lowest_free = min(set(range(2, 255)) - addresses)
    extra = service.create_server("after-the-race").json["server"]
    assert extra["addresses"]["private"][0]["addr"] == f"10.0.0.{lowest_free}", "the lowest free address"
    for s in servers + [extra]:
        service.delete(f"/servers/{s['id']}")
