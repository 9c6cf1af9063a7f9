"""The real OpenStack clients (python-openstackclient and openstacksdk, from PyPI) against the
real service through nginx, over plain HTTP and over TLS, with no Keystone (NOVA-COMPAT §2): they
send a token made by `alliance-compute token create` (auth type admin_token)."""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import uuid

import openstack
import pytest
from openstack import exceptions

from service import STORE

OPENSTACK = pathlib.Path(sys.executable).parent / "openstack"
CIRROS = "9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13"  # the default catalog's "cirros" (Image.defaults)
# Both schemes on the default store; on PostgreSQL (deploy/test's second run, which varies the
# store, not nginx) the one production uses: the http half of that run took ~40 s of CI time.
SCHEMES = ["https"] if STORE == "postgres" else ["http", "https"]

# openstacksdk warns about its own internals (RemovedInSDK50Warning…): nothing here to act on.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:openstack.*")


def endpoint(service, scheme):
    port = service.https_port if scheme == "https" else service.http_port
    return f"{scheme}://127.0.0.1:{port}/v2.1"


class CLI:
    """`openstack --os-auth-type admin_token --os-token T --os-endpoint URL/v2.1 …` (by environment)."""

    def __init__(self, service, scheme, token=None):
        url = endpoint(service, scheme)
        self.env = dict(os.environ, OS_AUTH_TYPE="admin_token", OS_TOKEN=token or service.token, OS_ENDPOINT=url,
                        OS_IDENTITY_ENDPOINT_OVERRIDE=url, OS_IDENTITY_API_VERSION="3",
                        OS_CACERT=str(service.tls_dir / "fullchain.pem"))
        for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_COMPUTE_API_VERSION"):
            self.env.pop(name, None)

    def run(self, *args, check=True):
        result = subprocess.run([str(OPENSTACK), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args):
        return json.loads(self.run(*args, "-f", "json").stdout)


@pytest.fixture(params=SCHEMES)
def cli(request, service):
    return CLI(service, request.param)


@pytest.fixture(params=SCHEMES)
def conn(request, service):
    connection = openstack.connect(
        auth_type="admin_token", auth={"endpoint": endpoint(service, request.param), "token": service.token},
        load_yaml_config=False, load_envvars=False, cacert=str(service.tls_dir / "fullchain.pem"))
    yield connection
    connection.close()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_server_lifecycle_with_the_cli(cli, service):
    name = unique("vm")
    created = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                       "--wait", name)
    assert created["name"] == name and created["status"] == "ACTIVE"
    assert created["flavor"]["original_name"] == "m1.small"
    assert created["image"] == f"cirros ({CIRROS})"
    address = created["addresses"]["private"][0]
    assert address.startswith("10.0.")
    assert created["OS-EXT-STS:power_state"] in ("Running", 1)

    listed = {s["Name"]: s for s in cli.json("server", "list")}
    assert listed[name]["Status"] == "ACTIVE"
    assert listed[name]["Image"] == "cirros" and listed[name]["Flavor"] == "m1.small"
    assert listed[name]["Networks"] == {"private": [address]}
    # The v1 API sees the same server, by name.
    assert service.get(f"/servers/{name}").json["server"]["id"] == created["id"]

    renamed = unique("renamed")
    cli.run("server", "set", "--name", renamed, name)
    assert cli.json("server", "show", created["id"])["name"] == renamed
    cli.run("server", "stop", renamed)
    shown = cli.json("server", "show", renamed)
    assert shown["status"] == "SHUTOFF" and shown["OS-EXT-STS:vm_state"] == "stopped"
    assert service.get(f"/servers/{created['id']}").json["server"]["status"] == "SHUTOFF"
    cli.run("server", "start", renamed)
    assert cli.json("server", "show", renamed)["status"] == "ACTIVE"
    cli.run("server", "reboot", renamed)
    assert cli.json("server", "show", renamed)["status"] == "ACTIVE"
    cli.run("server", "delete", renamed)
    gone = cli.run("server", "show", renamed, check=False)
    assert gone.returncode == 1 and f"No Server found for {renamed}" in gone.stderr
    assert service.get(f"/servers/{created['id']}").status == 404


def test_a_poll_with_changes_since_sees_deleted_servers(cli, service):
    """Nova's polling: a member's `server list --changes-since` shows a server deleted since as
    DELETED (the worker keeps it a day by default). The CLI always sends `deleted`, False unless
    `--deleted`: an admin's poll therefore lists live servers only, as Nova does, and an admin's
    `--deleted` the deleted ones alone."""
    scheme = "https" if cli.env["OS_ENDPOINT"].startswith("https") else "http"
    member = CLI(service, scheme, token=service.make_token("default", "poller", "member"))
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)).isoformat()
    kept, gone = unique("kept"), unique("gone")
    for name in (kept, gone):
        member.run("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.tiny", "--wait", name)
    gone_id = member.json("server", "show", gone)["id"]
    member.run("server", "delete", "--wait", gone)

    polled = {s["ID"]: s for s in member.json("server", "list", "--changes-since", since)}
    assert polled[gone_id]["Status"] == "DELETED" and polled[gone_id]["Networks"] == {}
    assert {s["Name"] for s in polled.values()} >= {kept, gone}
    assert gone not in {s["Name"] for s in member.json("server", "list")}, "without --changes-since: live servers"
    assert gone_id not in {s["ID"] for s in cli.json("server", "list", "--changes-since", since, "--all-projects")}
    deleted = {s["ID"] for s in cli.json("server", "list", "--deleted", "--all-projects")}
    assert gone_id in deleted and member.json("server", "show", kept)["id"] not in deleted
    reply = service.get(f"/v2.1/servers/{gone_id}/os-instance-actions",
                        headers={"OpenStack-API-Version": "compute 2.21"})
    assert [a["action"] for a in reply.json["instanceActions"]] == ["delete", "create"]
    member.run("server", "delete", kept)


def test_cli_boots_from_a_block_device_without_a_network(cli):
    name = unique("bfv")
    created = cli.json("server", "create", "--flavor", "m1.tiny", "--nic", "none", "--block-device",
                       f"uuid={CIRROS},source_type=image,destination_type=local,boot_index=0", name)
    shown = cli.json("server", "show", created["id"])
    assert shown["status"] == "ACTIVE" and shown["addresses"] == {}
    cli.run("server", "delete", created["id"])


def test_cli_lists_servers_made_with_the_v1_api(cli, service):
    name = unique("v1")
    assert service.create_server(name).status == 200
    found = cli.json("server", "list", "--name", f"^{name}$")
    assert [s["Name"] for s in found] == [name]
    assert found[0]["Image"] == "cirros-0.3.4-x86_64-uec"
    service.delete(f"/servers/{name}")


def test_cli_reports_what_is_missing(cli):
    missing = cli.run("server", "show", "nosuch", check=False)
    assert missing.returncode == 1 and "No Server found for nosuch" in missing.stderr
    no_image = cli.run("server", "create", "--image", "ubuntu", "--flavor", "m1.tiny", unique("x"), check=False)
    assert no_image.returncode == 1 and "ubuntu" in no_image.stderr


def test_flavors_with_the_cli(cli):
    names = [f["Name"] for f in cli.json("flavor", "list")]
    assert names[:5] == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"]
    small = cli.json("flavor", "show", "m1.small")
    assert (small["id"], small["ram"], small["disk"], small["vcpus"]) == ("2", 2048, 20, 1)
    name = unique("custom")
    created = cli.json("flavor", "create", "--ram", "1024", "--disk", "10", "--vcpus", "2", "--property",
                       "hw:cpu_policy=dedicated", name)
    assert created["properties"] == {"hw:cpu_policy": "dedicated"}
    uuid.UUID(created["id"])  # generated when the client gives none
    shown = cli.json("flavor", "show", name)
    assert shown["ram"] == 1024 and shown["properties"] == {"hw:cpu_policy": "dedicated"}
    cli.run("flavor", "delete", name)
    assert name not in [f["Name"] for f in cli.json("flavor", "list")]


def test_server_lifecycle_with_the_sdk(conn, service):
    name = unique("sdk")
    server = conn.compute.create_server(name=name, flavor_id="1", image_id=CIRROS, networks="none")
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30)
    assert server.name == name and server.addresses == {}
    assert conn.compute.find_server(name).id == server.id
    assert service.get(f"/servers/{server.id}").json["server"]["name"] == name

    more = [conn.compute.create_server(name=unique("page"), flavor_id="1", image_id=CIRROS, networks="auto")
            for _ in range(2)]
    paged = [s.id for s in conn.compute.servers(details=False, limit=1)]
    assert {server.id, *(s.id for s in more)} <= set(paged) and len(paged) == len(set(paged))

    server = conn.compute.update_server(server, name=name + "-b")
    assert conn.compute.get_server(server.id).name == name + "-b"
    conn.compute.stop_server(server)
    assert conn.compute.get_server(server.id).status == "SHUTOFF"
    conn.compute.start_server(server)
    conn.compute.reboot_server(server, "HARD")
    assert conn.compute.get_server(server.id).status == "ACTIVE"
    with pytest.raises(exceptions.ConflictException) as conflict:
        conn.compute.start_server(server)
    assert "vm_state active" in str(conflict.value)
    for s in [server, *more]:
        conn.compute.delete_server(s)
        conn.compute.wait_for_delete(s, wait=30)
    with pytest.raises(exceptions.NotFoundException) as missing:
        conn.compute.get_server(server.id)
    assert f"Instance {server.id} could not be found." in str(missing.value)


def test_flavors_with_the_sdk(conn):
    assert [f.name for f in conn.compute.flavors()][:5] == ["m1.tiny", "m1.small", "m1.medium", "m1.large",
                                                            "m1.xlarge"]
    assert conn.compute.find_flavor("m1.small").ram == 2048
    flavor = conn.compute.create_flavor(name=unique("sdkflavor"), ram=256, vcpus=1, disk=1)
    uuid.UUID(flavor.id)
    conn.compute.create_flavor_extra_specs(flavor, {"k": "v"})
    assert conn.compute.fetch_flavor_extra_specs(flavor).extra_specs == {"k": "v"}
    with pytest.raises(exceptions.ConflictException):
        conn.compute.create_flavor(name=flavor.name, ram=256, vcpus=1, disk=1)
    conn.compute.delete_flavor(flavor)
    assert conn.compute.find_flavor(flavor.name) is None


def test_the_sdk_finds_images_and_networks(conn):
    assert conn.image.find_image("cirros").id == CIRROS
    assert conn.network.find_network("private").name == "private"


def test_a_member_token_with_the_cli(service):
    project = unique("team")
    member = CLI(service, "https", service.make_token(project, "dev", "member"))
    name = unique("mine")
    created = member.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.tiny",
                          "--wait", name)
    assert created["status"] == "ACTIVE" and created["project_id"] == project
    admins = cli_of(service)
    others = unique("theirs")
    admins.json("server", "create", "--image", "cirros", "--flavor", "m1.tiny", others)
    assert [s["Name"] for s in member.json("server", "list")] == [name], "a member sees its project only"
    assert name in [s["Name"] for s in admins.json("server", "list", "--all-projects")]
    refused = member.run("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", unique("f"), check=False)
    assert refused.returncode == 1 and "Policy doesn't allow os_compute_api:os-flavor-manage:create" in refused.stderr
    limits = {row["Name"]: row["Value"] for row in member.json("limits", "show", "--absolute")}
    assert (limits["max_total_instances"], limits["total_instances_used"]) == (-1, 1), "quotas are opt-in"
    service.cli("quota", "set", "--project", project, "--instances", "10", "--cores", "20")
    limits = {row["Name"]: row["Value"] for row in member.json("limits", "show", "--absolute")}
    assert (limits["max_total_instances"], limits["total_instances_used"]) == (10, 1)
    quota = {row["Resource"]: row["Limit"] for row in member.json("quota", "show", "--compute", project)}
    assert (quota["instances"], quota["cores"], quota["ram"]) == (10, 20, -1)
    # Nova's other resources through the API, and the default class every other project gets.
    admins.run("quota", "set", "--key-pairs", "7", "--server-groups", "3", project)
    quota = {row["Resource"]: row["Limit"] for row in member.json("quota", "show", "--compute", project)}
    assert (quota["key-pairs"], quota["server-groups"], quota["instances"]) == (7, 3, 10), quota
    admins.run("quota", "set", "--class", "--key-pairs", "150", "default")
    quota = {row["Resource"]: row["Limit"] for row in admins.json("quota", "show", "--default", "--compute", project)}
    assert quota["key-pairs"] == 150, quota
    admins.run("quota", "set", "--class", "--key-pairs", "100", "default")
    bad = CLI(service, "https", "0123456789ab." + "0" * 64).run("server", "list", check=False)
    assert bad.returncode == 1 and "401" in bad.stderr
    member.run("server", "delete", name)
    admins.run("server", "delete", others)


def cli_of(service):
    return CLI(service, "https")
