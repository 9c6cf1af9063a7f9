"""Tokens, projects, roles and quotas through nginx, with tokens made by `alliance-compute token
create` in the worker's data directory: every route x {no token, member of A, member of B, admin}."""
import json
import time

import pytest

IMAGE = "9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13"
NETWORK = "c3a5f0d2-6e1b-4a7c-8f2d-0b9e4d6a1c57"
V1_SERVER = {"server": {"name": "new", "flavor": "1", "image": "cirros"}}
NOVA_SERVER = {"server": {"name": "new", "flavorRef": "1", "imageRef": IMAGE}}
FLAVOR = {"flavor": {"name": "f2", "ram": 64, "vcpus": 1, "disk": 0}}

# (method, path, body, microversion, status for member A, member B, admin, open to anyone)
MATRIX = [
    ("GET", "/servers", None, None, 200, 200, 200, False),
    ("GET", "/servers?all_tenants=1", None, None, 403, 403, 200, False),
    ("POST", "/servers", V1_SERVER, None, 200, 200, 200, False),
    ("GET", "/servers/{id}", None, None, 200, 404, 200, False),
    ("PATCH", "/servers/{id}", {"server": {"new_name": "x"}}, None, 200, 404, 200, False),
    ("DELETE", "/servers/{id}", None, None, 204, 404, 204, False),
    ("GET", "/flavors", None, None, 200, 200, 200, False),
    ("POST", "/flavors", FLAVOR, None, 403, 403, 200, False),
    ("GET", "/flavors/{flavor}", None, None, 200, 200, 200, False),
    ("DELETE", "/flavors/{flavor}", None, None, 403, 403, 204, False),
    ("GET", "/healthz", None, None, 200, 200, 200, True),
    ("GET", "/", None, None, 200, 200, 200, True),
    ("GET", "/v2.1", None, None, 200, 200, 200, True),
    ("GET", "/v2.1/servers", None, None, 200, 200, 200, False),
    ("GET", "/v2.1/servers/detail?all_tenants=1", None, None, 403, 403, 200, False),
    ("POST", "/v2.1/servers", NOVA_SERVER, None, 202, 202, 202, False),
    ("GET", "/v2.1/servers/{id}", None, None, 200, 404, 200, False),
    ("PUT", "/v2.1/servers/{id}", {"server": {"name": "x"}}, None, 200, 404, 200, False),
    ("POST", "/v2.1/servers/{id}/action", {"os-stop": None}, None, 202, 404, 202, False),
    ("DELETE", "/v2.1/servers/{id}", None, None, 204, 404, 204, False),
    ("GET", "/v2.1/flavors/detail", None, None, 200, 200, 200, False),
    ("POST", "/v2.1/flavors", FLAVOR, None, 403, 403, 200, False),
    ("PUT", "/v2.1/flavors/{flavor}", {"flavor": {"description": "d"}}, "2.55", 403, 403, 200, False),
    ("DELETE", "/v2.1/flavors/{flavor}", None, None, 403, 403, 202, False),
    ("GET", "/v2.1/flavors/{flavor}/os-extra_specs", None, None, 200, 200, 200, False),
    ("POST", "/v2.1/flavors/{flavor}/os-extra_specs", {"extra_specs": {"a": "b"}}, None, 403, 403, 200, False),
    ("PUT", "/v2.1/flavors/{flavor}/os-extra_specs/k", {"k": "w"}, None, 403, 403, 200, False),
    ("DELETE", "/v2.1/flavors/{flavor}/os-extra_specs/k", None, None, 403, 403, 200, False),
    ("GET", "/v2.1/os-quota-sets/{project}/detail", None, None, 200, 403, 200, False),
    ("GET", "/v2.1/limits", None, None, 200, 200, 200, False),
    ("GET", "/v2.1/images", None, None, 200, 200, 200, False),
    ("GET", f"/v2.1/networks/{NETWORK}", None, None, 200, 200, 200, False),
    ("GET", "/v2.1/projects/{project}", None, None, 200, 404, 200, False),
]
WHO = ["nobody", "member A", "member B", "admin"]


@pytest.fixture(scope="module")
def people(service):
    project = f"a{time.time_ns()}"
    return {"nobody": None, "member A": service.make_token(project, "alice", "member"),
            "member B": service.make_token(f"b{time.time_ns()}", "bob", "member"),
            "admin": service.make_token("ops", "root", "admin"), "project": project}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("method,path,body,version,a,b,admin,open_", MATRIX, ids=[f"{m[0]} {m[1]}" for m in MATRIX])
def test_every_route_for_everyone(service, people, who, method, path, body, version, a, b, admin, open_):
    as_a = {"X-Auth-Token": people["member A"]}
    name = f"vm{time.time_ns()}"
    server = service.post("/servers", {"server": {"name": name, "flavor": "1", "image": "cirros"}}, headers=as_a)
    assert server.status == 200, server
    flavor = f"fl{time.time_ns()}"
    assert service.post("/flavors", {"flavor": {"id": flavor, "name": flavor, "ram": 64, "vcpus": 1, "disk": 0}}).status == 200
    assert service.post(f"/v2.1/flavors/{flavor}/os-extra_specs", {"extra_specs": {"k": "v"}}).status == 200
    server_id = server.json["server"]["id"]
    target = path.format(id=server_id, flavor=flavor, project=people["project"])
    headers = {"X-Auth-Token": people[who]}
    if version:
        headers["X-OpenStack-Nova-API-Version"] = version
    for kind in ("server", "flavor"):  # names are unique; the service is shared by the module
        if body and kind in body and "name" in body[kind]:
            body = {kind: dict(body[kind], name=f"new{time.time_ns()}")}
    reply = service.request(method, target, body=body, headers=headers)
    expected = {"member A": a, "member B": b, "admin": admin, "nobody": a if open_ else 401}[who]
    assert reply.status == expected, reply
    if reply.status >= 400:
        assert reply.fault[1] == reply.status
    if reply.status == 401:
        assert reply.headers["www-authenticate"].startswith("Token")
    if who in ("nobody", "member B") and "{id}" not in path:
        assert server_id.encode() not in reply.body, "project A's server leaked"
    service.request("DELETE", f"/servers/{server_id}", headers=as_a)


def test_tokens_made_revoked_and_expired_with_the_cli(service):
    token = service.make_token("web", "ci", "member")
    assert service.get("/servers", headers={"X-Auth-Token": token}).status == 200
    listed = service.cli("token", "list")
    token_id = token.split(".")[0]
    assert token_id in listed and token.split(".")[1] not in listed
    stored = service.stored_token(token_id)
    assert token_id in stored and token.split(".")[1] not in stored
    service.cli("token", "revoke", token_id)
    revoked = service.after_cli_change(lambda: service.get("/servers", headers={"X-Auth-Token": token}),
                                       lambda reply: reply.status != 200)
    assert revoked.status == 401 and revoked.fault[0] == "unauthorized"
    # Expiry end to end, without waiting for it (the in-process tests move a clock past it).
    expired = service.make_token("web", "ci", "member", "--expires", "2020-01-01T00:00:00Z")
    assert service.get("/servers", headers={"X-Auth-Token": expired}).status == 401
    assert "(expired)" in service.cli("token", "list")
    for bad in ["", "nope", token_id + ".", "x" * 5000]:
        assert service.get("/servers", headers={"X-Auth-Token": bad}).status in (401, 400), bad


def test_quota_set_with_the_cli_applies_at_once(service):
    project = f"q{time.time_ns()}"
    token = {"X-Auth-Token": service.make_token(project, "u", "member")}
    service.cli("quota", "set", "--project", project, "--instances", "2")
    multi = service.post("/servers", {"server": {"name": "w", "flavor": "1", "image": "cirros", "min_count": 3}},
                         headers=token)
    assert multi.status == 403 and multi.fault[2] == (
        "Quota exceeded for instances: Requested 3, but already used 0 of 2 instances. The operator raises it with "
        f"`alliance-compute quota set --project {project} --instances 3` (-1: unlimited).")
    assert service.get("/servers", headers=token).json["servers"] == [], "all or nothing"
    for i in (1, 2):
        assert service.post("/servers", {"server": {"name": f"s{i}", "flavor": "1", "image": "cirros"}},
                            headers=token).status == 200
    over = service.post("/servers", {"server": {"name": "s3", "flavor": "1", "image": "cirros"}}, headers=token)
    assert over.status == 403
    limits = service.get("/v2.1/limits", headers=token).json["limits"]["absolute"]
    assert (limits["maxTotalInstances"], limits["totalInstancesUsed"]) == (2, 2)
    service.cli("quota", "set", "--project", project, "--instances", "3")
    raised = service.after_cli_change(
        lambda: service.post("/servers", {"server": {"name": "s3", "flavor": "1", "image": "cirros"}}, headers=token),
        lambda reply: reply.status != 403)
    assert raised.status == 200
    detail = service.get(f"/v2.1/os-quota-sets/{project}/detail", headers=token).json["quota_set"]
    assert detail["instances"] == {"limit": 3, "in_use": 3, "reserved": 0}
    defaults = service.get(f"/v2.1/os-quota-sets/{project}/defaults", headers=token).json["quota_set"]
    assert defaults["instances"] == -1, "the worker's default (none: quotas are opt-in), not the project's override"
    assert json.loads(service.get("/healthz").body)["status"] == "ok"
