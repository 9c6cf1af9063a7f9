"""Identity v3 at /identity with the real OpenStack clients, as users configure them: a clouds.yaml
with auth_url, username, password and project (and one with an application credential), over HTTPS
with the local CA, through nginx to the worker. Users are made the way an operator makes them:
`alliance-compute user create`. No mocks: python-openstackclient, openstacksdk and (in
test_ansible.py) Ansible's openstack.cloud modules talk to the service."""
import os
import pathlib
import subprocess
import uuid

import openstack
import pytest

from test_openstack_clients import CLI as TokenCLI, unique

# openstacksdk warns about its own internals (RemovedInSDK50Warning…): nothing here to act on.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:openstack.*")


def make_user(service, name, role="member", project="demo"):
    """`alliance-compute user create`: the password it makes is printed once."""
    return service.cli("user", "create", "--project", project, "--name", name, "--role", role).strip()


def auth_url(service):
    return f"https://127.0.0.1:{service.https_port}/identity/v3"


def clouds_yaml(service, directory, clouds):
    """A clouds.yaml as users write one for a real cloud (each cloud's `auth` given), and the
    environment that selects it."""
    lines = ["clouds:"]
    for name, (auth_type, auth) in clouds.items():
        lines += [f"  {name}:", f"    auth_type: {auth_type}", "    auth:", f"      auth_url: {auth_url(service)}"]
        lines += [f"      {key}: {value}" for key, value in auth.items()]
        lines += ["    region_name: RegionOne", "    identity_api_version: 3",
                  f"    cacert: {service.tls_dir / 'fullchain.pem'}"]
    path = pathlib.Path(directory) / f"clouds-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def password_auth(user, password, project="demo"):
    return ("password", {"username": user, "password": password, "project_name": project,
                         "user_domain_name": "Default", "project_domain_name": "Default"})


class CLI(TokenCLI):
    """`openstack --os-cloud NAME …` with the clouds.yaml given (running it as the token client does)."""

    def __init__(self, config, cloud):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env.update(OS_CLIENT_CONFIG_FILE=str(config), OS_CLOUD=cloud)


@pytest.fixture(scope="module")
def people(service, tmp_path_factory):
    """ada (member), rita (reader) and olga (member of another project), and a clouds.yaml for each."""
    passwords = {"ada": make_user(service, "ada"), "rita": make_user(service, "rita", role="reader"),
                 "olga": make_user(service, "olga", project="other")}
    config = clouds_yaml(service, tmp_path_factory.mktemp("clouds"), {
        "ada": password_auth("ada", passwords["ada"]),
        "rita": password_auth("rita", passwords["rita"]),
        "olga": password_auth("olga", passwords["olga"], project="other"),
        "ada-wrong": password_auth("ada", "not-her-password"),
    })
    return config, passwords


def test_a_password_cloud_works_for_the_cli_unchanged(service, people):
    config, _ = people
    cli = CLI(config, "ada")
    token = cli.json("token", "issue")
    assert token["project_id"] == "demo" and len(token["id"]) > 40
    name = unique("vm")
    created = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                       "--wait", name)
    assert created["status"] == "ACTIVE" and created["addresses"]["private"][0].startswith("10.0.")
    listed = {s["Name"]: s for s in cli.json("server", "list")}
    assert listed[name]["Image"] == "cirros" and listed[name]["Flavor"] == "m1.small"
    assert cli.json("server", "show", name)["id"] == created["id"]
    assert {f["Name"] for f in cli.json("flavor", "list")} >= {"m1.tiny", "m1.small"}
    assert "cirros" in {i["Name"] for i in cli.json("image", "list")}
    assert [n["Name"] for n in cli.json("network", "list")] == ["private"]
    cli.run("server", "delete", "--wait", name)
    assert name not in {s["Name"] for s in cli.json("server", "list")}


def test_keypairs_work_for_the_cli_and_a_made_private_key_is_the_real_one(service, people, tmp_path):
    config, _ = people
    cli = CLI(config, "ada")
    made = unique("made")
    private = tmp_path / "made.pem"
    private.write_text(cli.run("keypair", "create", made).stdout)  # the private key, shown once
    private.chmod(0o600)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(private)], capture_output=True, text=True, check=True).stdout
    kept = cli.run("keypair", "show", "--public-key", made).stdout
    assert derived.split()[:2] == kept.split()[:2], "the private key is the one whose public half is kept"

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f", str(tmp_path / "own")], check=True)
    own = unique("own")
    imported = cli.json("keypair", "create", "--public-key", str(tmp_path / "own.pub"), own)
    md5 = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(tmp_path / "own.pub")], capture_output=True,
                         text=True, check=True).stdout.split()[1]
    assert imported["fingerprint"] == md5.removeprefix("MD5:"), "Nova's fingerprint is ssh-keygen's MD5 one"

    server = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--key-name", own, "--wait", unique("keyed"))
    assert server["key_name"] == own
    refused = cli.run("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--key-name", "no-such-key", unique("keyless"), check=False)
    assert refused.returncode != 0 and "Invalid key_name provided" in refused.stderr
    cli.run("server", "delete", "--wait", server["id"])
    cli.run("keypair", "delete", own, made)
    assert not {own, made} & {pair["Name"] for pair in cli.json("keypair", "list")}


def test_server_groups_place_servers_for_the_cli(service, people):
    config, _ = people
    cli = CLI(config, "ada")
    group = cli.json("server", "group", "create", "--policy", "anti-affinity", unique("spread"))
    server = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--hint", f"group={group['id']}", "--wait", unique("first"))
    assert server["id"] in str(cli.json("server", "group", "show", group["id"])["members"])
    # One host: a second member of an anti-affinity group has nowhere to go.
    refused = cli.run("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--hint", f"group={group['id']}", unique("second"), check=False)
    assert refused.returncode != 0 and "No valid host was found" in refused.stderr
    assert group["id"] in {row["ID"] for row in cli.json("server", "group", "list")}
    cli.run("server", "delete", "--wait", server["id"])
    assert server["id"] not in str(cli.json("server", "group", "show", group["id"])["members"])
    cli.run("server", "group", "delete", group["id"])
    assert group["id"] not in {row["ID"] for row in cli.json("server", "group", "list")}


def test_security_groups_and_their_rules_for_the_cli(service, people):
    config, _ = people
    cli = CLI(config, "ada")
    name = unique("web")
    group = cli.json("security", "group", "create", "--description", "web tier", name)
    rule = cli.json("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "443:444",
                    "--remote-ip", "192.0.2.9/24", group["id"])
    assert (rule["port_range_min"], rule["port_range_max"], rule["remote_ip_prefix"]) == (443, 444, "192.0.2.0/24")
    duplicate = cli.run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "443:444",
                        "--remote-ip", "192.0.2.0/24", group["id"], check=False)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    listed = cli.json("security", "group", "rule", "list", group["id"])
    assert rule["id"] in {row["ID"] for row in listed} and len(listed) == 3, listed
    server = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--security-group", name, "--wait", unique("guarded"))
    assert name in str(cli.json("server", "show", server["id"])["security_groups"])
    in_use = cli.run("security", "group", "delete", name, check=False)
    assert in_use.returncode != 0 and "in use" in in_use.stderr
    cli.run("server", "remove", "security", "group", server["id"], name)
    assert name not in str(cli.json("server", "show", server["id"]).get("security_groups"))
    cli.run("security", "group", "rule", "delete", rule["id"])
    cli.run("security", "group", "delete", name)
    assert name not in {row["Name"] for row in cli.json("security", "group", "list")}
    cli.run("server", "delete", "--wait", server["id"])


def test_server_events_name_each_request_for_the_cli(service, people):
    config, _ = people
    cli = CLI(config, "ada")
    server = cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.small",
                      "--wait", unique("evented"))
    cli.run("server", "reboot", "--hard", "--wait", server["id"])
    events = cli.json("server", "event", "list", server["id"])
    assert [row["Action"] for row in events] == ["reboot", "create"], events
    shown = cli.json("server", "event", "show", server["id"], events[1]["Request ID"])
    assert shown["action"] == "create" and [e["result"] for e in shown["events"]] == ["Success"], shown
    # The request id is the one the create's answer carried, so an operator can find it in the log.
    assert events[1]["Request ID"] in service.log()
    cli.run("server", "delete", "--wait", server["id"])


def test_a_revoked_token_is_refused(service, people):
    config, _ = people
    cli = CLI(config, "ada")
    token = cli.json("token", "issue")["id"]
    assert service.get("/v2.1/servers", headers={"X-Auth-Token": token}, scheme="https").status == 200
    cli.run("token", "revoke", token)
    refused = service.get("/v2.1/servers", headers={"X-Auth-Token": token}, scheme="https")
    assert refused.status == 401 and refused.json["unauthorized"]["code"] == 401


def test_openstacksdk_signs_in_with_a_password_and_manages_a_server(service, people):
    config, passwords = people
    conn = openstack.connect(auth_url=auth_url(service), username="ada", password=passwords["ada"],
                             project_name="demo", user_domain_name="Default", project_domain_name="Default",
                             cacert=str(service.tls_dir / "fullchain.pem"), load_yaml_config=False,
                             load_envvars=False)
    try:
        name = unique("sdk")
        server = conn.create_server(name, image="cirros", flavor="m1.small", network="private", wait=True,
                                    auto_ip=False, timeout=60)
        assert server.status == "ACTIVE" and server.private_v4.startswith("10.0.")
        assert conn.get_server(name).id == server.id
        assert conn.delete_server(name, wait=True, timeout=60)
        assert conn.get_server(name) is None
    finally:
        conn.close()


def test_an_application_credential_cloud_works(service, people, tmp_path):
    config, _ = people
    made = CLI(config, "ada").json("application", "credential", "create", unique("ci"))
    secret, credential = made["Secret"], made["ID"]
    listed = CLI(config, "ada").run("application", "credential", "list", "-f", "json").stdout
    assert credential in listed and secret not in listed
    app = clouds_yaml(service, tmp_path, {"ci": ("v3applicationcredential", {
        "application_credential_id": credential, "application_credential_secret": secret})})
    cli = CLI(app, "ci")
    assert cli.json("token", "issue")["project_id"] == "demo"
    name = unique("app")
    cli.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.tiny", "--wait", name)
    assert name in {s["Name"] for s in cli.json("server", "list")}
    cli.run("server", "delete", "--wait", name)
    # openstacksdk with the same credential.
    conn = openstack.connect(auth_type="v3applicationcredential", auth={
        "auth_url": auth_url(service), "application_credential_id": credential,
        "application_credential_secret": secret}, cacert=str(service.tls_dir / "fullchain.pem"),
        load_yaml_config=False, load_envvars=False)
    try:
        assert conn.current_project_id == "demo"
        assert conn.get_flavor("m1.tiny").ram == 512
        assert [n.name for n in conn.network.networks()] == ["private"]
    finally:
        conn.close()
    # A wrong secret is refused, and says nothing of the right one.
    wrong = clouds_yaml(service, tmp_path, {"ci": ("v3applicationcredential", {
        "application_credential_id": credential, "application_credential_secret": ("1" if secret[0] == "0" else "0") + secret[1:]})})
    result = CLI(wrong, "ci").run("server", "list", check=False)
    assert result.returncode != 0 and "401" in result.stderr and secret[1:] not in result.stderr
    # Deleting the credential ends it.
    CLI(config, "ada").run("application", "credential", "delete", credential)
    assert CLI(app, "ci").run("server", "list", check=False).returncode != 0


def test_wrong_passwords_unknown_users_and_lockouts_are_keystone_faults(service, people):
    config, passwords = people
    result = CLI(config, "ada-wrong").run("server", "list", check=False)
    assert result.returncode != 0 and "401" in result.stderr

    def sign_in(user, password):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}}}}
        return service.post("/identity/v3/auth/tokens", body, headers={"X-Auth-Token": None}, scheme="https")

    wrong, unknown = sign_in("rita", "nope"), sign_in("nobody-here", "nope")
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json == {"error": {
        "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}
    # Two more failures in a row slow rita down: the right password is refused for a while
    # without being checked, and the refusal says so.
    sign_in("rita", "nope"), sign_in("rita", "nope")
    slowed = sign_in("rita", passwords["rita"])
    assert slowed.status == 401 and "Too many failed attempts" in slowed.json["error"]["message"]
    health = service.request("GET", "/healthz", headers={"X-Auth-Token": None})
    assert health.json["sign_ins"]["failed"] >= 4
    assert "sign-in failed for user" in service.log()


def test_a_reader_reads_and_a_token_reaches_only_its_project(service, people):
    config, _ = people
    ada, rita, olga = CLI(config, "ada"), CLI(config, "rita"), CLI(config, "olga")
    name = unique("mine")
    server = ada.json("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.tiny", name)
    assert name in {s["Name"] for s in rita.json("server", "list")}
    refused = rita.run("server", "create", "--image", "cirros", "--network", "private", "--flavor", "m1.tiny",
                       unique("no"), check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert name not in {s["Name"] for s in olga.json("server", "list")}
    olga_token = olga.json("token", "issue")["id"]
    other = service.get(f"/v2.1/servers/{server['id']}", headers={"X-Auth-Token": olga_token}, scheme="https")
    assert other.status == 404
    ada.run("server", "delete", name)


def test_an_admin_makes_projects_users_and_grants_as_tempest_does(service, people, tmp_path):
    admin_password = make_user(service, "root-" + uuid.uuid4().hex[:6], role="admin", project="ops")
    admin_name = [line.split()[0] for line in service.cli("user", "list").splitlines() if line.startswith("root-")][0]
    config = clouds_yaml(service, tmp_path, {"admin": password_auth(admin_name, admin_password, project="ops")})
    admin = CLI(config, "admin")
    project = unique("tempest")
    admin.json("project", "create", project)
    user = unique("tempest-user")
    admin.json("user", "create", "--password", "s3cret-pass", "--project", project, user)
    admin.run("role", "add", "--project", project, "--user", user, "member")
    assignments = admin.json("role", "assignment", "list", "--user", user, "--names")
    assert [(a["Role"], a["Project"].split("@")[0]) for a in assignments] == [("member", project)]
    joined = clouds_yaml(service, tmp_path, {"new": password_auth(user, "s3cret-pass", project=project)})
    assert CLI(joined, "new").json("server", "list") == []
    admin.run("user", "delete", user)
    admin.run("project", "delete", project)
    assert CLI(joined, "new").run("server", "list", check=False).returncode != 0
