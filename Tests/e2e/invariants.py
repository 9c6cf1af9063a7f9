"""The store's invariants, checked from both sides: what the API says and what is on disk."""
import json
import pathlib


def all_servers(service):
    servers, href = [], "/servers?limit=1000"
    while href:
        page = service.get(href).json
        servers += page["servers"]
        href = page["servers_links"][0]["href"] if "servers_links" in page else None
    return servers


def check_store(service, data_dir=None):
    """Names unique, addresses unique, every record file parses and matches the API, no
    temporary files (but spares) or unfinished intents left. Returns the servers."""
    data = pathlib.Path(data_dir or service.data)
    servers = all_servers(service)
    names = [s["name"] for s in servers]
    assert len(names) == len(set(names)), f"duplicate names: {sorted(n for n in names if names.count(n) > 1)}"
    addresses = [a["addr"] for s in servers for net in s["addresses"].values() for a in net]
    assert len(addresses) == len(set(addresses)), "an address is held by two servers"
    files = {}
    for path in (data / "servers").iterdir():
        if path.name.startswith(".tmp-spare-"):
            continue  # a replaced version the running worker keeps for its next write (README: Durability)
        assert not path.name.startswith(".tmp-"), f"temporary file left: {path.name}"
        record = json.loads(path.read_text())  # every file parses
        assert path.name == f"{record['id']}.json"
        if record.get("deleted") is None:  # else what is kept of a deleted server, for changes-since
            files[record["id"]] = record
    assert set(files) == {s["id"] for s in servers}, "files and the API disagree"
    for server in servers:
        assert files[server["id"]]["name"] == server["name"]
    assert [p.name for p in (data / "intents").iterdir()] == [], "an unfinished commit is left"
    return servers
