"""The seed's operations with its example bodies, through nginx, over HTTP and HTTPS."""
import re
import uuid

import pytest

SEED_CREATE = {"server": {"name": "demo_instance_final", "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec",
                          "keyname": "admin-key", "network": "private"}}
SEED_UPDATE = {"server": {"new_name": "demo_instance_update"}}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_five_seed_operations(service, scheme):
    # 1.3 Create server (Example 3), 200
    created = service.post("/servers", SEED_CREATE, scheme=scheme)
    assert created.status == 200, created
    assert created.headers["content-type"] == "application/json"
    server = created.json["server"]
    uuid.UUID(server["id"])
    assert server["name"] == "demo_instance_final"
    assert server["status"] == "ACTIVE"
    assert server["flavor"] == {"id": "2", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20}
    assert server["image"] == "cirros-0.3.4-x86_64-uec"
    assert server["keyname"] == "admin-key"
    assert server["network"] == "private"
    assert server["addresses"]["private"][0]["version"] == 4
    assert server["addresses"]["private"][0]["addr"].startswith("10.0.0.")
    assert ISO.match(server["created"]) and ISO.match(server["updated"])

    # 1.1 List servers, 200
    listed = service.get("/servers", scheme=scheme)
    assert listed.status == 200
    assert server["id"] in [s["id"] for s in listed.json["servers"]]

    # 1.2 Get specific server, by id, 200
    got = service.get(f"/servers/{server['id']}", scheme=scheme)
    assert got.status == 200 and got.json["server"] == server

    # 1.4 Update server (Example 5) by name, 200
    updated = service.patch("/servers/demo_instance_final", SEED_UPDATE, scheme=scheme)
    assert updated.status == 200, updated
    assert updated.json["server"]["name"] == "demo_instance_update"
    assert updated.json["server"]["id"] == server["id"]

    # 1.5 Delete server by name: no body
    deleted = service.delete("/servers/demo_instance_update", scheme=scheme)
    assert deleted.status == 204 and deleted.body == b""

    gone = service.get(f"/servers/{server['id']}", scheme=scheme)
    assert gone.status == 404
    assert gone.fault == ("itemNotFound", 404, f"Server {server['id']} could not be found.")


def test_every_response_carries_the_request_id_the_worker_logs(service):
    """One id per request, in Nova's form: X-Request-Id and the two headers OpenStack clients
    read (tempest fails without x-openstack-request-id), and the worker's log line."""
    reply = service.get("/flavors")
    request_id = reply.headers["x-request-id"]
    assert re.fullmatch(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id)
    assert reply.headers["x-openstack-request-id"] == request_id
    assert reply.headers["x-compute-request-id"] == request_id
    # …and who made it: the token's user and project.
    assert re.search(rf"request_id={request_id} user=e2e@default GET /flavors 200 [0-9.]+ms", service.log())
    missing = service.get("/servers/nope")
    assert missing.headers["x-request-id"] != request_id
    assert missing.headers["x-openstack-request-id"] == missing.headers["x-request-id"]
    # nginx's own answers (the docs, its 413) carry them too.
    for own in (service.get("/docs/"), service.post("/servers", b"x" * 70_000)):
        assert own.headers["x-openstack-request-id"] == own.headers["x-request-id"], own.headers


def test_flavors_list_get_create_delete(service):
    flavors = service.get("/flavors").json["flavors"]
    assert [f["name"] for f in flavors][:5] == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"]
    assert service.get("/flavors/m1.large").json["flavor"]["ram"] == 8192
    made = service.post("/flavors", {"flavor": {"name": "e2e.flavor", "vcpus": 2, "ram": 1024, "disk": 5, "id": "e2e"}})
    assert made.status == 200 and made.json["flavor"]["id"] == "e2e"
    assert service.post("/flavors", {"flavor": {"name": "e2e.flavor", "vcpus": 2, "ram": 1024, "disk": 5}}).status == 409
    assert service.create_server("on-e2e-flavor", flavor="e2e").status == 200
    assert service.delete("/flavors/e2e").status == 204
    assert service.get("/flavors/e2e").status == 404
    assert service.get("/servers/on-e2e-flavor").json["server"]["flavor"]["name"] == "e2e.flavor"
    assert service.delete("/servers/on-e2e-flavor").status == 204


def test_multi_create_and_pagination(service):
    reply = service.create_server("page", min_count=5)
    assert reply.status == 200, reply
    reservation = reply.json["reservation_id"]
    assert [s["name"] for s in reply.json["servers"]] == [f"page-{i}" for i in range(1, 6)]
    seen, href = [], f"/servers?reservation_id={reservation}&limit=2"
    while href:
        page = service.get(href).json
        seen += [s["name"] for s in page["servers"]]
        href = page["servers_links"][0]["href"] if "servers_links" in page else None
    assert seen == [f"page-{i}" for i in range(5, 0, -1)]
    for i in range(1, 6):
        assert service.delete(f"/servers/page-{i}").status == 204


def test_health(service):
    reply = service.get("/healthz")
    assert reply.status == 200
    assert reply.json["status"] == "ok" and reply.json["store"]["writable"] is True
    assert reply.json["flavors"] >= 5
