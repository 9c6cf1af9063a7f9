"""Bad input through nginx: each gets the right 4xx with a JSON fault, the worker keeps
serving and the store is unchanged. (The in-process tests check every message; this checks
the whole path, bytes included, and that nothing reaches a crash.)"""
import pytest

CREATE = "/servers"
BAD_BODIES = [
    ("malformed JSON", b'{"server": {"name": "a",', 400),
    ("truncated", b'{"server"', 400),
    ("not an object", b"[1, 2]", 400),
    ("empty", b"", 400),
    ("wrong type", b'{"server": {"name": 7, "flavor": "1", "image": "i"}}', 400),
    ("unknown field", b'{"server": {"name": "a", "flavor": "1", "image": "i", "size": 9}}', 400),
    ("invalid UTF-8", b'{"server": {"name": "\xff\xfe", "flavor": "1", "image": "i"}}', 400),
    ("NUL in name", b'{"server": {"name": "a\\u0000b", "flavor": "1", "image": "i"}}', 400),
    ("slash in name", b'{"server": {"name": "a/b", "flavor": "1", "image": "i"}}', 400),
    ("control character", b'{"server": {"name": "a\\u001bb", "flavor": "1", "image": "i"}}', 400),
    ("256-character name", b'{"server": {"name": "' + b"n" * 256 + b'", "flavor": "1", "image": "i"}}', 400),
    ("deep nesting", b'{"server": {"metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}}", 400),
    ("huge number", b'{"server": {"name": "a", "flavor": "1", "image": "i", "min_count": 1e999}}', 400),
    ("negative count", b'{"server": {"name": "a", "flavor": "1", "image": "i", "min_count": -3}}', 400),
    ("unknown flavor", b'{"server": {"name": "a", "flavor": "nope", "image": "i"}}', 400),
    ("oversized", b'{"server": {"name": "' + b"x" * 70_000 + b'"}}', 413),
]


@pytest.mark.parametrize("label,body,status", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_create_bodies(service, label, body, status):
    before = service.snapshot()
    reply = service.post(CREATE, body, headers={"Content-Type": "application/json"})
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/json"
    assert reply.fault[1] == status
    assert service.snapshot() == before
    assert service.get("/healthz").status == 200


BAD_REQUESTS = [
    ("GET", "/servers/%zz", 400),
    ("GET", "/servers/%C3%28", 400),
    ("GET", "/servers/a%2Fb", 404),
    ("GET", "/servers/..%2F..%2Fetc%2Fpasswd", 400),  # nginx refuses to normalise above the root
    ("GET", "/servers/..%2Fflavors", 404),
    ("GET", "/servers/%252F", 404),
    ("GET", "/servers?marker=00000000-0000-0000-0000-000000000000", 400),
    ("GET", "/servers?limit=-1", 400),
    ("GET", "/servers?limit=abc", 400),
    ("GET", "/servers?colour=red", 400),
    ("PUT", "/servers", 405),
    ("DELETE", "/flavors", 405),
    ("GET", "/nowhere", 404),
    ("GET", "/docs/missing.html", 404),
    ("POST", "/docs/", 405),
]


@pytest.mark.parametrize("method,path,status", BAD_REQUESTS, ids=[f"{m} {p}" for m, p, _ in BAD_REQUESTS])
def test_bad_paths_queries_and_methods(service, method, path, status):
    before = service.snapshot()
    reply = service.request(method, path)
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/json"
    name, code, message = reply.fault
    assert code == status and message
    assert service.snapshot() == before


def test_405_names_the_allowed_methods(service):
    reply = service.request("PUT", "/servers")
    assert reply.headers["allow"] == "GET, POST, HEAD"


def test_a_plain_http_request_on_the_https_port_gets_json(service):
    import socket
    with socket.create_connection(("127.0.0.1", service.https_port)) as s:
        s.sendall(b"GET /servers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"badRequest"' in reply


def test_oversized_headers_get_json(service):
    reply = service.raw(b"GET /servers HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\nConnection: close\r\n\r\n")
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/json"
    assert reply.fault[0] == "badRequest"


def test_names_with_unicode_round_trip(service):
    name = "naïve-名前-🚀"
    created = service.create_server(name)
    assert created.status == 200
    from urllib.parse import quote
    assert service.get("/servers/" + quote(name)).json["server"]["name"] == name
    assert service.delete("/servers/" + quote(name)).status == 204
