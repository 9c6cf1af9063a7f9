"""The OpenAPI document: valid, served as it is in the repository, and true of the live API."""
import json
import os
import subprocess
import sys

from service import REPO

SPEC = REPO / "deploy/www/docs/openapi.json"
BIN = os.path.dirname(sys.executable)


def test_the_document_is_valid_openapi_3_1():
    result = subprocess.run([f"{BIN}/openapi-spec-validator", str(SPEC)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = json.loads(SPEC.read_text())
    assert spec["openapi"] == "3.1.0"
    assert {"/servers", "/servers/{ref}", "/flavors", "/flavors/{ref}", "/healthz"} == set(spec["paths"])


def test_nginx_serves_it_for_postman_and_swagger(service):
    reply = service.get("/docs/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    served, stored = json.loads(reply.body), json.loads(SPEC.read_text())
    # Postman imports by link only with an absolute server URL: this host as the client reached it.
    assert served["servers"][0]["url"] == f"http://127.0.0.1:{service.http_port}/"
    assert {**served, "servers": stored["servers"]} == stored
    tls = service.get("/docs/openapi.json", scheme="https")
    assert json.loads(tls.body)["servers"][0]["url"] == f"https://127.0.0.1:{service.https_port}/"


def test_live_responses_match_it_and_bad_input_gets_no_5xx(fresh_service):
    """Schemathesis through nginx: examples, generated valid and invalid input for every
    operation, and stateful sequences (create, then get/update/delete what was created).
    Every check runs (Tests/e2e/schemathesis.toml says where and why any is widened)."""
    s = fresh_service
    s.start_worker("--network", "private=10.0.0.0/16")  # room for everything it creates
    s.start_nginx()
    url = f"http://127.0.0.1:{s.http_port}"
    result = subprocess.run(
        [f"{BIN}/st", "--config-file", str(REPO / "Tests/e2e/schemathesis.toml"), "run", f"{url}/docs/openapi.json",
         "--url", url, "--header", f"X-Auth-Token: {s.token}", "--max-examples", "50", "--seed", "20261129",
         "--no-color"],
        capture_output=True, text=True, timeout=600)
    print(result.stdout[-1500:])
    assert result.returncode == 0, result.stdout[-8000:]
    assert "5xx" not in result.stdout.split("SUMMARY")[-1].replace("Expected:", "")
    assert s.get("/healthz").status == 200
