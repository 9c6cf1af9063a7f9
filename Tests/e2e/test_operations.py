"""What an operator watches: Prometheus metrics at /metrics (this host only, like /healthz) and
JSON log lines for a log pipeline, from the real worker behind the real nginx."""
import json
import re
import signal
import threading
import time

import pytest


def metric(text, name, **labels):
    """The value of one sample of the exposition, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([-+0-9.e]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_metrics_count_requests_commits_and_token_failures(service):
    before = service.get("/metrics")
    assert before.status == 200, before
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4"), before.headers
    start = metric(before.body.decode(), "alliance_http_requests_total", route="/servers", method="POST", status="200") or 0
    assert service.create_server("metered").status == 200
    assert service.get("/servers", headers={"X-Auth-Token": None}).status == 401
    assert service.get("/nowhere").status == 404
    text = service.get("/metrics").body.decode()
    assert metric(text, "alliance_http_requests_total", route="/servers", method="POST", status="200") == start + 1
    assert metric(text, "alliance_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert metric(text, "alliance_token_failures_total", reason="missing") >= 1
    assert metric(text, "alliance_http_request_duration_seconds_count", route="/servers", method="POST") >= 1
    assert re.search(r'^alliance_http_request_duration_seconds_bucket\{route="/servers",method="POST",le="0.0005"\} ',
                     text, re.MULTILINE), "latency histograms, 0.5 ms up"
    assert metric(text, "alliance_store_commit_duration_seconds_count", operation="create_servers") >= 1
    assert metric(text, "alliance_servers") >= 1 and metric(text, "alliance_flavors") >= 5
    assert metric(text, "alliance_store_writable") == 1
    assert metric(text, "alliance_http_requests_in_flight") == 1, "the scrape itself"
    assert metric(text, "alliance_network_addresses_free", network="private") is not None


def test_metrics_are_for_this_host_only(service):
    for path in [b"/metrics", b"/metrics/", b"/metrics?x=1", b"/%6Detrics"]:
        reply = service.get_from_another_address(path)
        assert reply.startswith((b"HTTP/1.1 403", b"HTTP/1.1 404")), (path, reply[:300])
        assert b"alliance_http_requests_total" not in reply, path


def test_json_log_lines_carry_each_part_of_a_request(fresh_service):
    s = fresh_service
    s.start_worker("--log-format", "json")
    s.start_nginx()
    made = s.create_server("logged")
    assert made.status == 200
    request_id = made.headers["x-openstack-request-id"]
    lines = [json.loads(line) for line in s.log().splitlines() if line.startswith("{")]
    assert lines, s.log()
    entry = next(line for line in lines if line.get("request_id") == request_id)
    assert entry["level"] == "info" and entry["method"] == "POST" and entry["route"] == "/servers"
    assert entry["status"] == 200 and entry["user"] == "e2e" and entry["project"] == "default"
    assert float(entry["duration_ms"]) >= 0 and entry["message"].startswith("POST /servers 200 ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["time"])
    assert all(line.startswith("{") for line in s.log().splitlines() if line.strip()), "every record is JSON"


def test_the_worker_forgets_deleted_servers_past_their_time(fresh_service):
    """A tombstone takes the deleted server's file, is listed to a changes-since poll while it is
    kept, and is forgotten (its file removed) by the worker's own thread once past its time."""
    s = fresh_service
    s.start_worker("--keep-deleted-servers", "2")
    s.start_nginx()
    server = s.create_server("brief").json["server"]
    assert s.delete(f"/servers/{server['id']}").status == 204
    record = json.loads((s.data / "servers" / f"{server['id']}.json").read_text())
    assert record["deleted"] and record["actions"][-1]["action"] == "delete"
    polled = s.get("/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z").json["servers"]
    assert [p["status"] for p in polled if p["id"] == server["id"]] == ["DELETED"]
    deadline = time.time() + 15
    while (s.data / "servers" / f"{server['id']}.json").exists():
        assert time.time() < deadline, "the tombstone was not forgotten: " + s.log()[-2000:]
        time.sleep(0.2)
    assert "forgot 1 deleted servers past their time" in s.log()
    assert s.get("/v2.1/servers/detail?changes-since=2000-01-01T00:00:00Z").json["servers"] == []


def config_check(*args):
    import subprocess

    from service import BINARY
    return subprocess.run([BINARY, "config", "check", *args], capture_output=True, text=True)


def test_one_configuration_file_flags_override_it_and_config_check_shows_the_result(tmp_path):
    config = tmp_path / "alliance-compute.toml"
    config.write_text('# a comment\nthreads = 2\nnetwork = ["lab=10.9.0.0/24"]\nquota-instances = 3\n'
                      'log-format = "json"\ndata-dir = "%s"\n' % (tmp_path / "data"))
    result = config_check("--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"# effective configuration: from {config}")
    for expected in ("threads = 2", 'network = ["lab=10.9.0.0/24"]', "quota-instances = 3", 'log-format = "json"',
                     f'data-dir = "{tmp_path / "data"}"', "quota-cores = -1", 'log-level = "info"'):
        assert expected in lines, (expected, result.stdout)
    overridden = config_check("--config", str(config), "--threads", "5", "--network", "other=10.8.0.0/24")
    assert "threads = 5" in overridden.stdout.splitlines(), overridden.stdout
    assert 'network = ["other=10.8.0.0/24"]' in overridden.stdout.splitlines(), "a flag replaces the file's list"


@pytest.mark.parametrize("text, message", [
    ("thread = 2\n", "Unknown option '--thread'"),
    ("threads = 0\n", "--threads must be from 1 to 256."),
    ("threads = [\n", ":1:"),
    ('network = ["nonsense"]\n', "network"),
])
def test_a_bad_configuration_file_is_an_error_that_names_it(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = config_check("--config", str(config))
    assert result.returncode != 0, result
    assert str(config) in result.stderr and message in result.stderr, result.stderr


def test_serve_runs_with_the_configuration_file(fresh_service, tmp_path):
    config = tmp_path / "serve.toml"
    config.write_text('quota-instances = 1\nlog-format = "json"\n')
    s = fresh_service
    s.start_worker("--config", str(config))
    s.start_nginx()
    s.cli("quota", "set", "--project", "default", "--instances", "1")  # start_worker lifted the quota; put it back
    assert s.create_server("first").status == 200
    assert s.create_server("second").status == 403
    defaults = s.get("/v2.1/os-quota-sets/default/defaults").json["quota_set"]
    assert defaults["instances"] == 1, "the file's quota default"
    assert any(line.startswith("{") for line in s.log().splitlines()), "the file's log format"


def wait_for_log(s, text, count, timeout=15):
    """Until the worker's log holds `text` `count` times; returns the log."""
    deadline = time.time() + timeout
    while s.log().count(text) < count:
        assert time.time() < deadline, f"no {text!r} in the log: {s.log()[-2000:]}"
        time.sleep(0.02)
    return s.log()


def test_sighup_reloads_images_quotas_and_log_level_and_names_what_needs_a_restart(fresh_service, tmp_path):
    config = tmp_path / "serve.toml"
    config.write_text('quota-instances = 1\nimage = ["cirros=9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13"]\n'
                      'slow-request-ms = 1000\n')
    s = fresh_service
    s.start_worker("--config", str(config))
    s.start_nginx()
    member = {"X-Auth-Token": s.make_token("lab", "ann", "member")}

    def create(name, image="cirros"):
        return s.post("/servers", {"server": {"name": name, "flavor": "m1.tiny", "image": image}}, headers=member)

    assert create("one").status == 200
    assert create("two").status == 403, "the file's default quota"
    assert create("three", image="debian-12").status == 400, "not an image yet"
    assert s.get("/v2.1/images").status == 200
    assert s.log().count(" GET /v2.1/images 200 ") == 1, "requests are logged at info"

    # Reads go on through every reload: none may fail or wait.
    failures, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            reply = s.get("/servers", headers=member)
            if reply.status != 200:
                failures.append(reply.status)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        config.write_text('quota-instances = 5\nimage = ["cirros=9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13", '
                          '"debian-12=3f1c2a9e-7d4b-4e8a-9c6f-1b2d3e4f5a60"]\nlog-level = "warning"\nslow-request-ms = 500\n')
        s.worker.send_signal(signal.SIGHUP)
        log = wait_for_log(s, "reload: ", 2)
        assert f"reload: {config} read again; applied image = " in log, log[-2000:]
        assert "quota-instances = 5" in log and 'log-level = "warning"' in log
        assert "reload: slow-request-ms changed (1000 → 500): it takes effect only after a restart" in log
        assert create("two").status == 200, "the new default quota"
        assert create("three", image="debian-12").status == 200, "the new image"
        assert any(i["name"] == "debian-12" for i in s.get("/v2.1/images").json["images"])
        assert s.get("/v2.1/os-quota-sets/lab/defaults").json["quota_set"]["instances"] == 5
        assert s.log().count(" GET /v2.1/images 200 ") == 1, "requests are logged at info, below the new level"

        # A file with an error changes nothing, and says so.
        config.write_text('quota-instances = "many"\n')
        s.worker.send_signal(signal.SIGHUP)
        log = wait_for_log(s, "reload refused, nothing changed:", 1)
        assert "quota-instances" in log.split("reload refused, nothing changed:")[1].splitlines()[0]
        assert s.get("/v2.1/os-quota-sets/lab/defaults").json["quota_set"]["instances"] == 5
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == [], f"requests failed during reloads: {failures[:10]}"
    assert s.worker.poll() is None, "a reload never stops the worker"
