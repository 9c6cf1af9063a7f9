"""The documentation page: served by nginx, and every example on it true to the OpenAPI document."""
import html
import json
import re

import jsonschema

from service import REPO

PAGE = REPO / "deploy/www/docs/index.html"
SPEC = json.loads((REPO / "deploy/www/docs/openapi.json").read_text())


def examples():
    """(schema name, status, JSON) of every response example on the page."""
    found = re.findall(r'<pre class="response" data-status="(\d+)" data-schema="(\w+)">(.*?)</pre>', PAGE.read_text(), re.S)
    return [(schema, int(status), json.loads(html.unescape(body))) for status, schema, body in found]


def test_every_example_on_the_page_matches_the_openapi_document():
    cases = examples()
    assert len(cases) >= 10
    for schema_name, status, body in cases:
        # The whole document as the root, so its #/components references resolve.
        schema = {**SPEC, "$ref": f"#/components/schemas/{schema_name}"}
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, f"{schema_name} example ({status}): {errors}"
        if schema_name == "Fault":
            (inner,) = body.values()
            assert inner["code"] == status


def test_every_operation_is_on_the_page():
    page = PAGE.read_text()
    for path, operations in SPEC["paths"].items():
        for method in operations:
            if method == "parameters":
                continue
            assert f'<span class="method {method.upper()}">{method.upper()}</span>{path}</h3>' in page, f"{method} {path}"


def test_nginx_serves_the_page(service):
    reply = service.get("/docs/")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert b'href="openapi.json"' in reply.body
    assert service.get("/docs/index.html").body == reply.body
    assert service.get("/docs").status == 301


def test_the_page_renders_in_a_browser(service, tmp_path):
    """Headless Chromium screenshots the page nginx serves: the header band is the page's dark
    blue and the body has text in it (a blank or error page would not)."""
    import shutil
    import subprocess

    from PIL import Image

    browser = shutil.which("chromium")
    assert browser, "deploy/test installs chromium"
    shot = tmp_path / "docs.png"
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,1600", f"--screenshot={shot}", f"http://127.0.0.1:{service.http_port}/docs/"],
                   capture_output=True, timeout=120, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1600)
    assert image.getpixel((20, 20)) == (15, 42, 68), "the header's colour (#0f2a44)"
    body = image.crop((0, 300, 1200, 1600))
    assert len(body.getcolors(maxcolors=1 << 16) or []) > 50, "text and code blocks, not a blank page"


def test_the_page_shows_the_address_it_was_reached_at(service):
    """The examples say https://HOST; in a browser the page's script puts its own origin there
    (deploy/run-local's http://127.0.0.1:8080, a server's https://HOST), and long request lines wrap."""
    import shutil
    import subprocess

    origin = f"http://127.0.0.1:{service.http_port}"
    dom = subprocess.run([shutil.which("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          f"{origin}/docs/"], capture_output=True, text=True, timeout=120, check=True).stdout
    assert f"curl -s -H \"X-Auth-Token: $TOKEN\" {origin}/servers" in dom or f"{origin}/servers" in dom, dom[:2000]
    assert f"OS_ENDPOINT={origin}/v2.1" in dom
    assert "https://HOST/servers" not in dom
    assert "white-space: pre-wrap" in dom, "long request lines wrap instead of scrolling"
