"""The hostile-input catalogue: bad requests through nginx, table-driven.

Each one must get the right 4xx, a JSON fault carrying that code, no 5xx; afterwards the
worker still serves and the store is exactly as before."""
import json
import socket
import threading
import time
from urllib.parse import quote

import pytest

S = b'{"server": {"name": "%s", "flavor": "m1.small", "image": "cirros"}}'


def server(name=b"ok", **extra):
    """A create body with `name` (raw bytes, JSON-escaped by the caller) and extra fields."""
    fields = b"".join(b', "%s": %s' % (k.encode(), v if isinstance(v, bytes) else json.dumps(v).encode())
                      for k, v in extra.items())
    return b'{"server": {"name": "%s", "flavor": "m1.small", "image": "cirros"%s}}' % (name, fields)


def nested(depth, open_, close):
    return b'{"server": {"name": "n", "flavor": "1", "image": "cirros", "metadata": ' + open_ * depth + close * depth + b"}}"


# (id, method, path, body, headers, status)
CATALOGUE = [
    # -- malformed, truncated, not JSON ------------------------------------------------------
    ("malformed", "POST", "/servers", b'{"server": {"name": "a",', None, 400),
    ("truncated", "POST", "/servers", b'{"server"', None, 400),
    ("open brace", "POST", "/servers", b"{", None, 400),
    ("trailing garbage", "POST", "/servers", S % b"a" + b" x", None, 400),
    ("two documents", "POST", "/servers", S % b"a" + S % b"b", None, 400),
    ("single quotes", "POST", "/servers", b"{'server': {}}", None, 400),
    ("comment", "POST", "/servers", b'/* hi */ {"server": {}}', None, 400),
    ("NaN", "POST", "/servers", server(min_count=b"NaN"), None, 400),
    ("empty body", "POST", "/servers", b"", None, 400),
    ("whitespace body", "POST", "/servers", b" \n\t ", None, 400),
    ("array body", "POST", "/servers", b"[1, 2]", None, 400),
    ("string body", "POST", "/servers", b'"server"', None, 400),
    ("number body", "POST", "/servers", b"42", None, 400),
    ("null body", "POST", "/servers", b"null", None, 400),
    ("form body", "POST", "/servers", b"name=a&flavor=1", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("deep arrays", "POST", "/servers", nested(5000, b"[", b"]"), None, 400),
    ("deep objects", "POST", "/servers", nested(3000, b'{"a":', b"}")[:-2] + b"1" + b"}" * 3002, None, 400),
    # -- wrong types, unknown fields --------------------------------------------------------
    ("name is a number", "POST", "/servers", b'{"server": {"name": 7, "flavor": "1", "image": "cirros"}}', None, 400),
    ("name is an array", "POST", "/servers", b'{"server": {"name": ["a"], "flavor": "1", "image": "cirros"}}', None, 400),
    ("name is null", "POST", "/servers", b'{"server": {"name": null, "flavor": "1", "image": "cirros"}}', None, 400),
    ("server is a string", "POST", "/servers", b'{"server": "a"}', None, 400),
    ("flavor is an object", "POST", "/servers", b'{"server": {"name": "a", "flavor": {}, "image": "cirros"}}', None, 400),
    ("metadata is a list", "POST", "/servers", server(metadata=["a"]), None, 400),
    ("metadata value is a number", "POST", "/servers", server(metadata={"k": 1}), None, 400),
    ("metadata value is null", "POST", "/servers", server(metadata={"k": None}), None, 400),
    ("unknown field", "POST", "/servers", server(size=9), None, 400),
    ("unknown top-level field", "POST", "/servers", b'{"server": {"name": "a"}, "extra": 1}', None, 400),
    ("missing name", "POST", "/servers", b'{"server": {"flavor": "1", "image": "cirros"}}', None, 400),
    ("missing image", "POST", "/servers", b'{"server": {"name": "a", "flavor": "1"}}', None, 400),
    # -- numbers and counts -----------------------------------------------------------------
    ("huge number", "POST", "/servers", server(min_count=b"1e999"), None, 400),
    ("huge integer", "POST", "/servers", server(min_count=b"123456789012345678901234567890"), None, 400),
    ("negative count", "POST", "/servers", server(min_count=-3), None, 400),
    ("zero count", "POST", "/servers", server(max_count=0), None, 400),
    ("fractional count", "POST", "/servers", server(min_count=1.5), None, 400),
    ("count over 100", "POST", "/servers", server(min_count=101), None, 400),
    ("min over max", "POST", "/servers", server(min_count=3, max_count=2), None, 400),
    ("boolean count", "POST", "/servers", server(min_count=True), None, 400),
    ("count word", "POST", "/servers", server(min_count="two"), None, 400),
    ("reservation flag word", "POST", "/servers", server(return_reservation_id="perhaps"), None, 400),
    # -- bytes and unicode ------------------------------------------------------------------
    ("invalid UTF-8", "POST", "/servers", S % b"\xff\xfe", None, 400),
    ("overlong UTF-8", "POST", "/servers", S % b"\xc0\xaf", None, 400),
    ("UTF-16 surrogate bytes", "POST", "/servers", S % b"\xed\xa0\x80", None, 400),
    ("lone surrogate escape", "POST", "/servers", S % b"\\ud800", None, 400),
    ("raw NUL byte", "POST", "/servers", S % b"a\x00b", None, 400),
    ("escaped NUL", "POST", "/servers", S % b"a\\u0000b", None, 400),
    ("escape character", "POST", "/servers", S % b"a\\u001bb", None, 400),
    ("raw newline", "POST", "/servers", S % b"a\nb", None, 400),
    ("line separator", "POST", "/servers", S % "a\u2028b".encode(), None, 400),
    ("right-to-left override", "POST", "/servers", S % "invoice\u202efdp.exe".encode(), None, 400),
    ("noncharacter", "POST", "/servers", S % "a\uffffb".encode(), None, 400),
    # -- names ------------------------------------------------------------------------------
    ("empty name", "POST", "/servers", S % b"", None, 400),
    ("slash in name", "POST", "/servers", S % b"a/b", None, 400),
    ("leading space", "POST", "/servers", S % b" a", None, 400),
    ("trailing tab", "POST", "/servers", S % b"a\\t", None, 400),
    ("256-character name", "POST", "/servers", S % (b"n" * 256), None, 400),
    ("10000-character name", "POST", "/servers", S % (b"n" * 10000), None, 400),
    ("name in use", "POST", "/servers", S % b"existing", None, 409),
    ("name in use, decomposed", "POST", "/servers", S % "cafe\u0301".encode(), None, 409),
    ("multi-create clash", "POST", "/servers", server(b"taken", min_count=3), None, 409),
    ("metadata 129 pairs", "POST", "/servers", server(metadata={f"k{i}": "v" for i in range(129)}), None, 400),
    ("metadata key 256", "POST", "/servers", server(metadata={"k" * 256: "v"}), None, 400),
    ("metadata empty key", "POST", "/servers", server(metadata={"": "v"}), None, 400),
    ("unknown flavor", "POST", "/servers", b'{"server": {"name": "a", "flavor": "m9", "image": "cirros"}}', None, 400),
    ("unknown network", "POST", "/servers", server(network="public"), None, 400),
    ("empty image", "POST", "/servers", b'{"server": {"name": "a", "flavor": "1", "image": ""}}', None, 400),
    # -- sizes ------------------------------------------------------------------------------
    ("70 KB body", "POST", "/servers", S % (b"x" * 70_000), None, 413),
    ("64 KiB + 1 body", "POST", "/servers", b" " * (65536 - len(S % b"a") + 1) + S % b"a", None, 413),
    # -- updates ----------------------------------------------------------------------------
    ("patch nothing", "PATCH", "/servers/existing", b'{"server": {}}', None, 400),
    ("patch old field name", "PATCH", "/servers/existing", b'{"server": {"name": "b"}}', None, 400),
    ("patch wrong type", "PATCH", "/servers/existing", b'{"server": {"new_name": 5}}', None, 400),
    ("patch into a name in use", "PATCH", "/servers/existing", b'{"server": {"new_name": "taken-2"}}', None, 409),
    ("patch unknown server", "PATCH", "/servers/nobody", b'{"server": {"new_name": "b"}}', None, 404),
    ("patch empty body", "PATCH", "/servers/existing", b"", None, 400),
    # -- flavors ----------------------------------------------------------------------------
    ("flavor zero vcpus", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 0, "ram": 1, "disk": 0}}', None, 400),
    ("flavor ram word", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 1, "ram": "lots", "disk": 0}}', None, 400),
    ("flavor negative disk", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": -1}}', None, 400),
    ("flavor id with space", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 0, "id": "a b"}}', None, 400),
    ("flavor id ..", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 0, "id": "../x"}}', None, 400),
    ("flavor id taken", "POST", "/flavors", b'{"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 0, "id": "1"}}', None, 409),
    ("flavor name taken", "POST", "/flavors", b'{"flavor": {"name": "m1.tiny", "vcpus": 1, "ram": 1, "disk": 0}}', None, 409),
    # -- paths and references ---------------------------------------------------------------
    ("bad percent escape", "GET", "/servers/%zz", None, None, 400),
    ("truncated percent escape", "GET", "/servers/a%2", None, None, 400),
    ("escape of invalid UTF-8", "GET", "/servers/%C3%28", None, None, 400),
    ("encoded slash", "GET", "/servers/a%2Fb", None, None, 404),
    ("encoded traversal", "GET", "/servers/..%2F..%2Fetc%2Fpasswd", None, None, 400),
    ("traversal into flavors", "GET", "/servers/..%2Fflavors", None, None, 404),
    ("double-encoded slash", "GET", "/servers/%252F", None, None, 404),
    ("encoded NUL", "GET", "/servers/%00", None, None, 400),  # nginx refuses NUL in a path
    ("dot segment", "DELETE", "/servers/.", None, None, 404),
    ("very long reference", "GET", "/servers/" + "r" * 7000, None, None, 404),
    ("reference over the URI limit", "GET", "/servers/" + "r" * 9000, None, None, 414),
    ("unknown path", "GET", "/nowhere", None, None, 404),
    ("unknown nested path", "GET", "/servers/existing/extra", None, None, 404),
    ("missing docs page", "GET", "/docs/missing.html", None, None, 404),
    # -- queries ----------------------------------------------------------------------------
    ("limit -1", "GET", "/servers?limit=-1", None, None, 400),
    ("limit abc", "GET", "/servers?limit=abc", None, None, 400),
    ("limit 0", "GET", "/servers?limit=0", None, None, 400),
    ("limit 1001", "GET", "/servers?limit=1001", None, None, 400),
    ("limit 1e3", "GET", "/servers?limit=1e3", None, None, 400),
    ("limit empty", "GET", "/servers?limit=", None, None, 400),
    ("unknown marker", "GET", "/servers?marker=00000000-0000-4000-8000-000000000000", None, None, 400),
    ("status bogus", "GET", "/servers?status=SLEEPING", None, None, 400),
    ("unknown parameter", "GET", "/servers?sort=name", None, None, 400),
    ("duplicate parameter", "GET", "/servers?limit=1&limit=2", None, None, 400),
    ("bad escape in query", "GET", "/servers?name=%zz", None, None, 400),
    # -- methods ----------------------------------------------------------------------------
    ("PUT on the collection", "PUT", "/servers", S % b"a", None, 405),
    ("DELETE on the collection", "DELETE", "/servers", None, None, 405),
    ("POST on a server", "POST", "/servers/existing", S % b"a", None, 405),
    ("PATCH on a flavor", "PATCH", "/flavors/1", b"{}", None, 405),
    ("unknown method", "BREW", "/servers", None, None, 405),
    ("POST to the docs", "POST", "/docs/", b"x", None, 405),
    ("TRACE", "TRACE", "/servers", None, None, 405),
    # -- the OpenStack surface ---------------------------------------------------------------
    ("nova malformed body", "POST", "/v2.1/servers", b'{"server": {', None, 400),
    ("nova malformed microversion", "GET", "/v2.1/servers", None, {"X-OpenStack-Nova-API-Version": "2.x"}, 400),
    ("nova microversion too new", "GET", "/v2.1/servers", None, {"OpenStack-API-Version": "compute 2.101"}, 406),
    ("nova microversion 3.0", "GET", "/v2.1/flavors", None, {"X-OpenStack-Nova-API-Version": "3.0"}, 406),
    ("nova name is not an id", "GET", "/v2.1/servers/existing", None, None, 404),
    ("nova bad name regex", "GET", "/v2.1/servers?name=%28", None, None, 400),
    ("nova bad changes-since", "GET", "/v2.1/servers/detail?changes-since=soon", None, None, 400),
    ("nova unknown filter at 2.75", "GET", "/v2.1/servers?x=1", None, {"X-OpenStack-Nova-API-Version": "2.75"}, 400),
    ("nova unknown image", "POST", "/v2.1/servers", b'{"server": {"name": "n", "imageRef": "nope", "flavorRef": "1"}}',
     None, 400),
    ("nova image name as imageRef", "POST", "/v2.1/servers",
     b'{"server": {"name": "n", "imageRef": "cirros", "flavorRef": "1"}}', None, 400),
    ("nova two networks", "POST", "/v2.1/servers",
     b'{"server": {"name": "n", "imageRef": "9e6f3a44-2d1b-4f8e-8c5a-7b0d2e4f6a13", "flavorRef": "1", '
     b'"networks": [{"uuid": "a"}, {"uuid": "b"}]}}', {"X-OpenStack-Nova-API-Version": "2.37"}, 400),
    ("nova volume boot", "POST", "/v2.1/servers",
     b'{"server": {"name": "n", "flavorRef": "1", "block_device_mapping_v2": [{"source_type": "volume", '
     b'"uuid": "v", "boot_index": 0}]}}', None, 400),
    ("nova unknown action", "POST", "/v2.1/servers/x/action", b'{"dance": null}', None, 400),
    ("nova action not offered, no such server", "POST", "/v2.1/servers/x/action", b'{"pause": null}', None, 404),
    ("security group rule, port 0", "POST", "/network/v2.0/security-group-rules",
     b'{"security_group_rule": {"security_group_id": "x", "direction": "ingress", "protocol": "tcp",'
     b' "port_range_min": 0, "port_range_max": 0}}', None, 400),
    ("security group rule, huge prefix", "POST", "/network/v2.0/security-group-rules",
     b'{"security_group_rule": {"security_group_id": "x", "direction": "ingress", "ethertype": "IPv6",'
     b' "remote_ip_prefix": "' + b'1:' * 5000 + b':/1"}}', None, 400),
    ("security group, name not a string", "POST", "/network/v2.0/security-groups",
     b'{"security_group": {"name": ["x"]}}', None, 400),
    ("nova rebuild without an image", "POST", "/v2.1/servers/x/action", b'{"rebuild": {}}', None, 400),
    ("nova rebuild with files", "POST", "/v2.1/servers/x/action",
     b'{"rebuild": {"imageRef": "cirros", "personality": [{"path": "/etc/x", "contents": ""}]}}', None, 400),
    ("nova accessIPv4 of three parts", "POST", "/v2.1/servers",
     b'{"server": {"name": "n", "imageRef": "cirros", "flavorRef": "1", "accessIPv4": "1.2.3"}}', None, 400),
    ("nova accessIPv6 with a zone", "PUT", "/v2.1/servers/x", b'{"server": {"accessIPv6": "fe80::1%eth0"}}', None, 400),
    ("nova tags before 2.26", "GET", "/v2.1/servers/x/tags", None, None, 404),
    ("nova tag of 61 characters", "PUT", "/v2.1/servers/x/tags/" + "t" * 61, None,
     {"OpenStack-API-Version": "compute 2.26"}, 400),
    ("nova tag with a comma", "PUT", "/v2.1/servers/x/tags/a%2Cb", None, {"OpenStack-API-Version": "compute 2.26"}, 400),
    ("nova tags that are not a list", "PUT", "/v2.1/servers/x/tags", b'{"tags": "a"}',
     {"OpenStack-API-Version": "compute 2.26"}, 400),
    ("nova tags filter with an empty tag", "GET", "/v2.1/servers?tags=a,,b", None, None, 400),
    ("nova server group of two policies", "POST", "/v2.1/os-server-groups",
     b'{"server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}}', None, 400),
    ("nova server group rules for affinity", "POST", "/v2.1/os-server-groups",
     b'{"server_group": {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}}',
     {"OpenStack-API-Version": "compute 2.64"}, 400),
    ("nova server group of a huge per-host rule", "POST", "/v2.1/os-server-groups",
     b'{"server_group": {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 1e400}}}',
     {"OpenStack-API-Version": "compute 2.64"}, 400),
    ("nova server group name of 256 characters", "POST", "/v2.1/os-server-groups",
     b'{"server_group": {"name": "' + b"g" * 256 + b'", "policies": ["affinity"]}}', None, 400),
    ("nova group hint that is not an id", "POST", "/v2.1/servers",
     b'{"server": {"name": "n", "imageRef": "cirros", "flavorRef": "1"}, "os:scheduler_hints": {"group": ["x"]}}',
     None, 400),
    ("nova server group that is not there", "GET", "/v2.1/os-server-groups/%2e%2e", None, None, 404),
    ("nova action on nothing", "POST", "/v2.1/servers/x/action", b'{"os-stop": null}', None, 404),
    ("nova two actions", "POST", "/v2.1/servers/x/action", b'{"os-stop": null, "os-start": null}', None, 400),
    ("nova oversized body", "POST", "/v2.1/servers", b'{"server": {"name": "' + b"a" * 70_000 + b'"}}', None, 413),
    ("nova wrong method", "PATCH", "/v2.1/servers/detail", None, None, 405),
    ("nova duplicate flavor", "POST", "/v2.1/flavors", b'{"flavor": {"name": "m1.tiny", "ram": 1, "vcpus": 1, "disk": 0}}',
     None, 409),
    ("nova bad extra spec key", "POST", "/v2.1/flavors/1/os-extra_specs", b'{"extra_specs": {"a/b": "c"}}', None, 400),
    ("nova flavor description before 2.55", "PUT", "/v2.1/flavors/1", b'{"flavor": {"description": "d"}}', None, 404),
    # -- the security review's findings ------------------------------------------------------
    ("name filter that overflowed regexec's stack", "GET", "/v2.1/servers?name=%28%7C%29%28%5C1%5C1%29*", None, None, 400),
    ("name filter with back-references", "GET", "/v2.1/servers?name=%28.*%29%28.*%29%28.*%29%5C3%5C2%5C1z", None, None,
     400),
    ("name filter of nested counts", "GET", "/v2.1/servers?name=%28%28a%7B1%2C100%7D%29%7B1%2C100%7D%29%7B1%2C100%7D",
     None, None, 400),
    ("name filter that backtracks", "GET", "/v2.1/servers/detail?name=%28e%2B%29%2B%24", None, None, 400),
    ("name filter nested too deep", "GET", "/v2.1/servers?name=" + "%28" * 40 + "a" + "%29" * 40, None, None, 400),
    ("access to a public flavor", "POST", "/v2.1/flavors/1/action", b'{"addTenantAccess": {"tenant": "x"}}', None, 409),
    ("access list of a public flavor", "GET", "/v2.1/flavors/1/os-flavor-access", None, None, 404),
    ("access action without a tenant", "POST", "/v2.1/flavors/1/action", b'{"addTenantAccess": {}}', None, 400),
    ("removing access never given", "POST", "/v2.1/flavors/1/action", b'{"removeTenantAccess": {"tenant": "x"}}', None,
     404),
]

# Malformed HTTP itself, sent byte for byte: (id, bytes, status on the wire)
RAW = [
    ("header over 8 KiB", b"GET /servers HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 400),
    ("no Host in HTTP/1.1", b"GET /servers HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", b"GET /servers HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("two Content-Lengths", b"POST /servers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    ("non-numeric Content-Length", b"POST /servers HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}", 400),
    ("bad chunk size", b"POST /servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
    ("unknown transfer coding", b"POST /servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("space in the request target", b"GET /servers list HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("HTTP/2 preface on HTTP/1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    ("oversized chunked body", b"POST /servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"10001\r\n" + b"x" * 65537 + b"\r\n0\r\n\r\n", 413),
]


@pytest.fixture(scope="module")
def catalogue_service(service):
    assert service.create_server("existing").status == 200
    # A name that makes "(e+)+$" backtrack past the limit.
    assert service.create_server("e" * 200 + "!").status == 200
    assert service.create_server("café").status == 200  # precomposed é
    assert service.create_server("taken-2").status == 200
    return service


def expect_fault(reply, status):
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/json", reply.headers
    assert reply.fault[1] == status


@pytest.mark.parametrize("label,method,path,body,headers,status", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_request(catalogue_service, label, method, path, body, headers, status):
    s = catalogue_service
    before = s.snapshot()
    expect_fault(s.request(method, path, body=body, headers=headers), status)
    assert s.get("/healthz").status == 200
    assert s.snapshot() == before


@pytest.mark.parametrize("label,data,status", RAW, ids=[r[0] for r in RAW])
def test_malformed_http(catalogue_service, label, data, status):
    s = catalogue_service
    before = s.snapshot()
    reply = s.raw(data if b"Connection:" in data else data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
    assert reply.status == status, reply
    assert reply.headers.get("content-type") == "application/json"
    assert reply.fault[0] in ("badRequest", "overLimit", "notImplemented")
    assert s.get("/healthz").status == 200
    assert s.snapshot() == before


def test_the_catalogue_is_at_least_sixty_requests():
    assert len(CATALOGUE) + len(RAW) + 2 >= 60


def test_405_names_the_allowed_methods(catalogue_service):
    assert catalogue_service.request("PUT", "/servers").headers["allow"] == "GET, POST, HEAD"


def test_plain_http_on_the_https_port_gets_json(catalogue_service):
    with socket.create_connection(("127.0.0.1", catalogue_service.https_port)) as s:
        s.sendall(b"GET /servers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"badRequest"' in reply


def test_slow_headers_and_a_slow_body_are_dropped_by_nginx(catalogue_service):
    """Slowloris, on the headers and on the body at once (as an attack would, and one 10 s wait
    for the suite instead of two): nginx gives up after client_header_timeout and
    client_body_timeout (10 s each) and closes the connection, having sent nothing or a JSON
    408 (it logs a 408 either way); nothing is a 5xx and the worker never sees the requests."""
    s = catalogue_service
    before = s.snapshot()
    assert s.get("/healthz").status == 200  # the worker's log line before the attack
    starts = {"slow headers": b"GET /servers HTTP/1.1\r\nHost: x\r\n",
              "slow body": b"POST /servers HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"ser"}
    outcomes = {}

    def stall(label):
        with socket.create_connection(("127.0.0.1", s.http_port), timeout=30) as conn:
            conn.sendall(starts[label])
            started, reply = time.time(), b""
            while chunk := conn.recv(65536):
                reply += chunk
            outcomes[label] = (time.time() - started, reply)

    threads = [threading.Thread(target=stall, args=(label,)) for label in starts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for label, (waited, reply) in outcomes.items():
        assert 9 < waited < 20, (label, waited)
        assert reply == b"" or (reply.startswith(b"HTTP/1.1 408") and b'"code": 408' in reply), (label, reply[:200])
    assert outcomes.keys() == starts.keys()
    assert "/servers" not in s.log().split("GET /healthz")[-1], "the worker never saw the requests"
    assert s.snapshot() == before
    assert s.get("/healthz").status == 200


def test_a_byte_order_mark_is_ignored(catalogue_service):
    """RFC 8259 lets parsers ignore a BOM, and Windows tools send one: accepted."""
    s = catalogue_service
    reply = s.post("/servers", b"\xef\xbb\xbf" + S % b"with-bom")
    assert reply.status == 200 and reply.json["server"]["name"] == "with-bom"
    assert s.delete("/servers/with-bom").status == 204


def test_names_with_unicode_round_trip(catalogue_service):
    s = catalogue_service
    name = "naïve-名前-🚀"
    assert s.create_server(name).status == 200
    assert s.get("/servers/" + quote(name)).json["server"]["name"] == name
    assert s.get("/servers/" + quote("cafe\u0301")).json["server"]["name"] == "café", "canonically equivalent"
    assert s.delete("/servers/" + quote(name)).status == 204
