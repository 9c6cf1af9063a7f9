#!/usr/bin/env python3
"""Writes deploy/www/docs/index.html from real requests to a live service (see deploy/make-docs)."""
import html
import json
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests/e2e"))
from service import Service  # noqa: E402

TEMPLATE = (REPO / "deploy/docs/index.template.html").read_text()


def pretty(body):
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False)


class Session:
    def __init__(self, service):
        self.service = service
        self.parts = {}

    def example(self, key, method, path, body=None, schema=None, curl_body=None, token=True):
        """Sends the request, keeps a curl command for it and the response, for the page."""
        reply = self.service.request(method, path, body=body, headers=None if token else {"X-Auth-Token": None})
        command = "curl -s"
        if token:
            command += ' -H "X-Auth-Token: $TOKEN"'
        if method not in ("GET", "POST") or (method == "POST" and body is None):
            command += f" -X {method}"
        command += f" https://HOST{path}"
        if body is not None:
            command += f" \\\n  -d '{curl_body or json.dumps(body)}'"
        if reply.body:
            shown = pretty(reply.body)
            attrs = f' data-status="{reply.status}"' + (f' data-schema="{schema}"' if schema else "")
            response = f'<pre class="response"{attrs}>{html.escape(shown)}</pre>'
        else:
            response = f'<pre class="status">HTTP/1.1 {reply.status} {"No Content" if reply.status == 204 else ""}</pre>'
        self.parts[key] = f'<pre class="request">{html.escape(command)}</pre>\n{response}'
        return reply


def main():
    with tempfile.TemporaryDirectory(prefix="alliance-docs-") as root:
        root = pathlib.Path(root)
        subprocess.run(["bash", "-c", f'. "{REPO}/deploy/lib.sh"; make_certificate "{root}/tls"'], check=True,
                       capture_output=True)
        service = Service(root, root / "tls").start()
        try:
            s = Session(service)
            seed = {"server": {"name": "demo_instance_final", "flavor": "m1.small", "image": "cirros-0.3.4-x86_64-uec",
                               "keyname": "admin-key", "network": "private", "metadata": {"role": "db"}}}
            created = s.example("create", "POST", "/servers", seed, "ServerDocument").json["server"]
            s.example("multi", "POST", "/servers", {"server": {"name": "web", "flavor": "m1.tiny",
                      "image": "cirros-0.3.4-x86_64-uec", "min_count": 2}}, "Reservation")
            s.example("list", "GET", "/servers?flavor=m1.tiny&limit=1", schema="ServerList")
            s.example("get", "GET", f"/servers/{created['id']}", schema="ServerDocument")
            s.example("patch", "PATCH", "/servers/demo_instance_final", {"server": {"new_name": "demo_instance_update"}},
                      "ServerDocument")
            s.example("delete", "DELETE", "/servers/demo_instance_update")
            s.example("flavors", "GET", "/flavors", schema="FlavorList")
            s.example("flavor_get", "GET", "/flavors/m1.small", schema="FlavorDocument")
            s.example("flavor_create", "POST", "/flavors", {"flavor": {"name": "c1.big", "vcpus": 16, "ram": 65536,
                      "disk": 200, "id": "c1"}}, "FlavorDocument")
            s.example("flavor_delete", "DELETE", "/flavors/c1")
            s.example("error_404", "GET", "/servers/nope", schema="Fault")
            s.example("error_400", "POST", "/servers", {"server": {"name": "a/b", "flavor": "m1.tiny", "image": "cirros"}},
                      "Fault")
            s.example("error_409", "POST", "/servers", {"server": {"name": "web-1", "flavor": "m1.tiny", "image": "cirros"}},
                      "Fault")
            s.example("error_401", "GET", "/servers", schema="Fault", token=False)
            s.example("health", "GET", "/healthz", schema="Health", token=False)
        finally:
            service.close()
    page = TEMPLATE
    for key, part in s.parts.items():
        page = page.replace("{{" + key + "}}", part)
    assert "{{" not in page, "a placeholder of the template was not filled"
    (REPO / "deploy/www/docs/index.html").write_text(page)
    print("wrote deploy/www/docs/index.html")


if __name__ == "__main__":
    main()
