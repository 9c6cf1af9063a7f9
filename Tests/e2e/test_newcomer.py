"""What a new user trips over first, through nginx and the real CLI: not-quite-JSON bodies,
names that look like ids, CLI commands on a data directory that is not there, a second
deploy/run-local beside the first, and the Authorization header curl users reach for."""
import os
import pathlib
import signal
import subprocess
import time

import pytest

from service import BINARY, REPO, free_port

SERVER = '{"server": {"name": "%s", "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec", "network": "private"}}'


@pytest.mark.parametrize("body, message", [
    ('{"server": {"name": "a", "flavor": "m1.small",}}',
     "Malformed request body: a comma before '}' (JSON allows no trailing commas) at line 1, column 47."),
    ('{\n  "server": {\n    "name": "a",\n    "name": "b",\n    "flavor": "m1.small"\n  }\n}',
     "Malformed request body: the member 'name' appears twice in 'server' at line 4, column 5."),
    ('{"server": {"name": "a", "metadata": {"k": "1", "k": "2"}}}',
     "Malformed request body: the member 'k' appears twice in 'server.metadata' at line 1, column 49."),
    ('{"server": {"name": "a"}} {"server": {}}',
     "Malformed request body: unexpected '{' after the end of the JSON text at line 1, column 27."),
])
def test_not_quite_json_is_a_400_that_says_what_and_where(service, body, message):
    before = service.snapshot()
    for path in ("/servers", "/v2.1/servers"):
        response = service.post(path, body)
        assert response.status == 400, (path, response)
        assert response.fault[2] == message, (path, response)
    assert service.snapshot() == before


def test_a_server_name_in_the_form_of_an_id_is_refused_saying_why(service):
    made = service.create_server("uuid-probe")
    assert made.status == 200, made
    existing_id = made.json["server"]["id"]
    for name in (existing_id, existing_id.upper(), "12345678-abcd-4bcd-8bcd-1234567890ab"):
        response = service.post("/servers", SERVER % name)
        assert response.status == 400, response
        assert "must not be in the form of a UUID" in response.fault[2], response
        renamed = service.patch(f"/servers/{existing_id}", {"server": {"name": name}})
        assert renamed.status == 400, renamed
        nova = service.post("/v2.1/servers", {"server": {"name": name, "flavorRef": "1", "imageRef": "none",
                                                         "networks": "none"}},
                            headers={"OpenStack-API-Version": "compute 2.37"})
        assert nova.status == 400 and "UUID" in nova.fault[2], nova
    assert service.get("/servers/uuid-probe").status == 200, "reachable by name as ever"


@pytest.mark.parametrize("command", [
    ["token", "list"], ["token", "revoke", "0123456789ab"],
    ["token", "create", "--project", "p", "--user", "u"],
    ["quota", "show"], ["quota", "set", "--project", "p", "--instances", "3"],
])
def test_every_cli_command_fails_the_same_clear_way_on_a_missing_data_directory(tmp_path, command):
    missing = tmp_path / "nowhere"
    result = subprocess.run([BINARY, *command[:2], "--data-dir", str(missing), *command[2:]],
                            capture_output=True, text=True)
    assert result.returncode != 0, result
    assert result.stderr.strip() == (f"Error: There is no data directory at {missing}: "
                                     "give the --data-dir the worker serves."), result
    assert result.stdout == ""
    assert not missing.exists(), "nothing is created"


def test_authorization_bearer_is_taken_like_x_auth_token(service):
    token = service.token
    bearer = service.get("/servers", headers={"X-Auth-Token": None, "Authorization": f"Bearer {token}"})
    assert bearer.status == 200, bearer
    lower = service.get("/flavors", headers={"X-Auth-Token": None, "Authorization": f"bearer {token}"})
    assert lower.status == 200, lower
    wrong = service.get("/servers", headers={"X-Auth-Token": None, "Authorization": "Bearer 0123456789ab.nope"})
    assert wrong.status == 401 and wrong.fault is not None, wrong
    basic = service.get("/servers", headers={"X-Auth-Token": None, "Authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status == 401, basic
    assert "Bearer" in basic.headers.get("www-authenticate", ""), basic.headers


class RunLocal:
    """deploy/run-local in the background, with its own data directory, run directory and ports."""

    def __init__(self, tmp_path, name, run_dir, ports):
        self.data = tmp_path / name
        self.env = dict(os.environ, ALLIANCE_DATA_DIR=str(self.data), ALLIANCE_RUN_DIR=str(run_dir),
                        ALLIANCE_HTTP_PORT=str(ports[0]), ALLIANCE_HTTPS_PORT=str(ports[1]))
        self.env.pop("ALLIANCE_DATABASE_URL", None)
        self.log = tmp_path / f"{name}.log"
        self.process = subprocess.Popen([str(REPO / "deploy/run-local")], env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def token_file(self):
        return pathlib.Path(f"{self.data}.admin-token")

    def output(self):
        return self.log.read_text(errors="replace")

    def wait_until_up(self, timeout=300):
        deadline = time.time() + timeout
        while "Alliance Compute API is up." not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.time() < deadline, self.output()
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def test_a_second_run_local_refuses_before_touching_the_first(tmp_path):
    import http.client

    ports = (free_port(), free_port())
    first = RunLocal(tmp_path, "first", tmp_path / "run", ports)
    try:
        first.wait_until_up()
        token = first.token_file.read_text().strip()

        def flavors():
            connection = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=10)
            connection.request("GET", "/flavors", headers={"X-Auth-Token": token})
            return connection.getresponse().status

        assert flavors() == 200
        # The same run directory (and ports), another data directory: refused at once.
        second = RunLocal(tmp_path, "second", tmp_path / "run", ports)
        assert second.process.wait(timeout=120) != 0
        assert "another deploy/run-local" in second.output() and "is up" not in second.output(), second.output()
        # Another run directory, the same ports: refused too, before it writes anything.
        third = RunLocal(tmp_path, "third", tmp_path / "run3", ports)
        assert third.process.wait(timeout=120) != 0
        assert f"127.0.0.1:{ports[0]}" in third.output() and "is up" not in third.output(), third.output()
        for refused in (second, third):
            assert not refused.data.exists() and not refused.token_file.exists()
        assert not (tmp_path / "run3" / "nginx.conf").exists()
        # The first is untouched: its token, its socket, its answers.
        assert first.token_file.read_text().strip() == token
        assert flavors() == 200
        assert first.process.poll() is None
    finally:
        first.stop()


@pytest.mark.parametrize("command, wrong, nearest, usage", [
    (["tokn", "list"], "'tokn' is not a command of alliance-compute.", "Did you mean 'token'?", "alliance-compute --help"),
    (["token", "lst"], "'lst' is not a command of alliance-compute token.", "Did you mean 'list'?",
     "alliance-compute token --help"),
    (["qouta", "show"], "'qouta' is not a command of alliance-compute.", "Did you mean 'quota'?",
     "alliance-compute --help"),
])
def test_a_mistyped_command_names_the_nearest(command, wrong, nearest, usage):
    result = subprocess.run([BINARY, *command], capture_output=True, text=True)
    assert result.returncode == 64, result
    assert wrong in result.stderr and nearest in result.stderr and usage in result.stderr, result.stderr


def test_a_subcommand_mistake_shows_that_subcommands_usage(tmp_path):
    result = subprocess.run([BINARY, "token", "create", "--data-dir", str(tmp_path), "--user", "u"],
                            capture_output=True, text=True)
    assert result.returncode == 64, result
    assert "Missing expected argument '--project <project>'" in result.stderr, result.stderr
    assert "Usage: alliance-compute token create" in result.stderr, result.stderr


DEPLOY_SCRIPTS = sorted(p.name for p in (REPO / "deploy").iterdir() if p.is_file() and os.access(p, os.X_OK))


@pytest.mark.parametrize("script", DEPLOY_SCRIPTS)
def test_every_deploy_script_answers_help_with_its_usage_and_does_nothing_else(script):
    # deploy/test --help used to start the whole suite, and deploy/bench --help a release build.
    assert len(DEPLOY_SCRIPTS) >= 10, DEPLOY_SCRIPTS
    header = (REPO / "deploy" / script).read_text().splitlines()
    usage_lines = [line.removeprefix("#").removeprefix(" ") for line in header[1:]]
    usage_lines = usage_lines[:next(i for i, line in enumerate(header[1:]) if not line.startswith("#"))]
    for flag in ("--help", "-h"):
        answered = subprocess.run([str(REPO / "deploy" / script), flag], capture_output=True, text=True, timeout=10)
        assert answered.returncode == 0, (script, flag, answered)
        assert answered.stdout.splitlines() == usage_lines, (script, flag, answered.stdout)
        assert answered.stderr == "", (script, flag, answered.stderr)
    assert len(usage_lines) >= 3 and "set -e" not in answered.stdout, (script, answered.stdout)
