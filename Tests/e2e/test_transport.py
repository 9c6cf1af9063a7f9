"""What only the transport shows: restarts, crashes, limits, nginx's own errors, the socket."""
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from service import BINARY, fastcgi_begin, fastcgi_read, fastcgi_record, fastcgi_request, share_socket


def test_data_survives_a_worker_restart(fresh_service):
    s = fresh_service.start()
    created = s.create_server("survivor", metadata={"role": "db"}).json["server"]
    assert s.stop_worker() == 0
    s.start_worker()
    assert s.get("/servers/survivor").json["server"] == created
    assert s.create_server("second").json["server"]["addresses"]["private"][0]["addr"] == "10.0.0.3"


def test_an_acknowledged_write_survives_kill_9(fresh_service):
    s = fresh_service.start()
    created = s.create_server("acknowledged").json["server"]
    renamed = s.patch("/servers/acknowledged", {"server": {"new_name": "renamed"}}).json["server"]
    s.stop_worker(signal.SIGKILL)
    s.start_worker()
    assert s.get(f"/servers/{created['id']}").json["server"] == renamed


def test_oversized_body_is_a_json_413_from_nginx(service):
    before = service.snapshot()
    reply = service.post("/servers", b'{"server": {"name": "' + b"x" * 70_000 + b'"}}')
    assert reply.status == 413
    assert reply.headers["content-type"] == "application/json"
    assert reply.fault[0] == "overLimit"
    assert reply.headers.get("x-request-id")
    assert service.snapshot() == before


def test_the_worker_enforces_the_limit_without_nginx(service):
    """A client on the socket itself cannot get around the body limit."""
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/servers", "CONTENT_LENGTH": "100000", "REQUEST_ID": "direct"}
    output = fastcgi_request(service.socket, params, b"{" + b" " * 99_998 + b"}")
    assert output.startswith(b"Status: 413 ")
    assert b'"overLimit"' in output
    # And a body longer than its declared length is not read past the limit either.
    params["CONTENT_LENGTH"] = "10"
    output = fastcgi_request(service.socket, params, b"{" + b" " * 99_998 + b"}")
    assert output.startswith(b"Status: 413 ")
    assert service.get("/healthz").status == 200


def test_json_502_when_the_worker_is_down(fresh_service):
    s = fresh_service.start()
    s.stop_worker()
    reply = s.get("/servers")
    assert reply.status == 502
    assert reply.headers["content-type"] == "application/json"
    assert reply.fault == ("computeFault", 502, "The API worker is not available. Try again shortly.")
    s.start_worker()
    assert s.get("/servers").status == 200


def test_a_second_worker_on_the_same_data_dir_is_refused(fresh_service):
    s = fresh_service.start()
    second = subprocess.run([BINARY, "serve", "--data-dir", str(s.data), "--socket", str(s.run / "second.sock")],
                            capture_output=True, text=True, timeout=20)
    assert second.returncode == 1
    assert f"data directory {s.data} is in use by another alliance-compute process (pid {s.worker.pid})" in second.stderr
    assert not (s.run / "second.sock").exists()
    assert s.get("/healthz").status == 200


def test_a_live_socket_is_not_stolen(fresh_service):
    s = fresh_service.start()
    other = subprocess.run([BINARY, "serve", "--data-dir", str(s.root / "other"), "--socket", str(s.socket)],
                           capture_output=True, text=True, timeout=20)
    assert other.returncode == 1
    assert f"another process is listening on {s.socket}" in other.stderr
    assert not (s.root / "other").exists(), "a worker that cannot listen leaves the data directory alone"
    assert s.get("/healthz").status == 200


def test_the_socket_is_not_world_writable(service):
    mode = stat.S_IMODE(os.stat(service.socket).st_mode)
    assert mode == 0o660


def test_sigterm_finishes_requests_in_progress_and_exits_0(fresh_service):
    """A request in progress when SIGTERM arrives (its body still coming) is answered 200, then
    the worker exits 0; requests under load meanwhile get answers or nginx's 502, never a hang."""
    import socket as sockets
    s = fresh_service.start()
    body = json.dumps({"server": {"name": "in-flight", "flavor": "1", "image": "cirros"}}).encode()
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/servers", "CONTENT_LENGTH": str(len(body)),
              "REQUEST_ID": "req-drain", "HTTP_X_AUTH_TOKEN": s.token}
    held = sockets.socket(sockets.AF_UNIX)
    held.settimeout(15)
    held.connect(str(s.socket))
    held.sendall(fastcgi_begin(params) + fastcgi_record(5, body[:10]))
    # A thread of the worker accepts it at once and waits for the rest of the body. (Had it not
    # been accepted before the signal, it never would be: the answer below proves it was.)
    time.sleep(0.3)
    errors, done = [], threading.Event()

    def load():
        while not done.is_set():
            reply = s.get("/servers")
            if reply.status not in (200, 502):
                errors.append(reply)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    s.worker.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.worker.poll() is None, "the worker waits for the request in progress"
    held.sendall(fastcgi_record(5, body[10:]) + fastcgi_record(5, b""))
    reply = fastcgi_read(held)
    held.close()
    assert reply.startswith(b"Status: 200 "), reply[:200]
    assert b'"in-flight"' in reply
    assert s.stop_worker(signal.SIGTERM) == 0
    done.set()
    for t in threads:
        t.join()
    assert errors == []
    assert "SIGTERM: no longer accepting; draining requests in progress" in s.log()
    assert not s.socket.exists(), "the worker removes the socket it created"


def test_the_worker_explains_bad_flags():
    reply = subprocess.run([BINARY, "serve", "--socket", "/tmp/x.sock", "--bind", "fd0"], capture_output=True, text=True)
    assert reply.returncode == 64
    assert "Give either --socket or --bind, not both." in reply.stderr
    bad_network = subprocess.run([BINARY, "serve", "--network", "private=10.0.0.1/24"], capture_output=True, text=True)
    assert "has host bits set" in bad_network.stderr
    version = subprocess.run([BINARY, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip()


def test_fd0_socket_as_spawn_fcgi_passes_it(fresh_service, tmp_path):
    """--bind fd0: the listening socket arrives on standard input (spawn-fcgi, systemd StandardInput=socket)."""
    import socket as sockets
    s = fresh_service
    listener = sockets.socket(sockets.AF_UNIX)
    listener.bind(str(s.socket))
    share_socket(s.socket)
    listener.listen(64)
    worker = subprocess.Popen([BINARY, "serve", "--bind", "fd0", "--data-dir", str(s.data)], stdin=listener.fileno(),
                              stderr=open(s.worker_log, "ab"))
    s.worker = worker
    s.start_nginx()
    try:
        assert s.get("/v2.1").status == 200  # open: the worker answers, its data directory exists
        s.token = s.make_token("default", "e2e", "admin")
        assert s.get("/flavors").status == 200
        assert s.stop_worker() == 0
        assert s.socket.exists(), "an inherited socket is left for the next worker"
        s.worker = subprocess.Popen([BINARY, "serve", "--bind", "auto", "--data-dir", str(s.data)], stdin=listener.fileno(),
                                    stderr=open(s.worker_log, "ab"))
        assert s.get("/flavors").status == 200, "the same socket still accepts: it was never shut down"
    finally:
        listener.close()


def test_json_504_when_the_worker_does_not_answer(fresh_service):
    """A stopped (not dead) worker: nginx connects, waits fastcgi_read_timeout, answers 504. The
    rendered configuration's 30 s is made 3 s here (the same directive), so the suite does not
    wait half a minute."""
    s = fresh_service
    s.start_worker()
    config = s.nginx_conf.read_text()
    assert config.count("fastcgi_read_timeout 30s;") == 1
    s.nginx_conf.write_text(config.replace("fastcgi_read_timeout 30s;", "fastcgi_read_timeout 3s;"))
    s.start_nginx()
    assert s.get("/servers").status == 200
    os.kill(s.worker.pid, signal.SIGSTOP)
    try:
        started = time.time()
        reply = s.get("/servers", timeout=60)
        assert reply.status == 504
        assert reply.headers["content-type"] == "application/json"
        assert reply.fault == ("computeFault", 504, "The API worker did not answer in time.")
        assert 2.5 < time.time() - started < 10
    finally:
        os.kill(s.worker.pid, signal.SIGCONT)
    assert s.get("/servers").status == 200


def test_every_error_page_nginx_serves_is_a_fault_with_its_code():
    """Each error_page in the shipped nginx.conf points at a JSON fault whose code nginx sends."""
    import json
    import re
    from service import REPO
    config = (REPO / "nginx.conf").read_text()
    pages = re.findall(r"error_page (\d+) /_errors/(\d+)\.json;", config)
    assert len(pages) >= 12
    on_the_wire = {"494": 400, "497": 400}  # nginx's internal codes, sent as 400
    for code, page in pages:
        assert code == page
        body = json.loads((REPO / "deploy/www/errors" / f"{page}.json").read_text())
        (name, inner), = body.items()
        assert inner["code"] == on_the_wire.get(code, int(code))
        assert inner["message"]


def test_a_client_that_stalls_on_the_socket_is_dropped(fresh_service):
    """A client of the socket that sends one byte and stops held a thread forever; now the read
    times out (--io-timeout) and the thread serves others."""
    import socket as sockets
    s = fresh_service
    s.start_worker("--threads", "1", "--io-timeout", "1")
    s.start_nginx()
    stalled = [sockets.socket(sockets.AF_UNIX) for _ in range(2)]
    try:
        for conn in stalled:
            conn.connect(str(s.socket))
            conn.sendall(b"\x01")  # the first byte of a FastCGI record, and nothing more
        started = time.time()
        assert s.get("/flavors", timeout=20).status == 200, "the only thread was freed"
        assert time.time() - started < 15
    finally:
        for conn in stalled:
            conn.close()
    assert "dropped a FastCGI connection that closed, or stalled for 1.0 s, before its request was complete" in s.log()


def test_a_body_that_stops_coming_is_dropped(fresh_service):
    import socket as sockets
    s = fresh_service
    s.start_worker("--threads", "1", "--io-timeout", "1")
    s.start_nginx()
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/servers", "CONTENT_LENGTH": "50", "REQUEST_ID": "stalled-body"}
    with sockets.socket(sockets.AF_UNIX) as conn:
        conn.connect(str(s.socket))
        conn.sendall(fastcgi_begin(params) + fastcgi_record(5, b"{\"ser"))
        assert s.get("/flavors", timeout=20).status == 200
    assert "its body did not arrive within 1.0 s" in s.log()
    assert s.get("/servers").json["servers"] == [], "nothing was created from half a body"


def test_tls_offers_only_forward_secret_suites(service):
    import ssl
    for cipher, works in [("ECDHE-RSA-AES128-GCM-SHA256", True), ("AES128-GCM-SHA256", False), ("AES256-SHA", False)]:
        context = ssl.create_default_context(cafile=str(service.tls_dir / "fullchain.pem"))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
        try:
            with socket.create_connection(("127.0.0.1", service.https_port)) as raw, \
                    context.wrap_socket(raw, server_hostname="localhost") as tls:
                negotiated = tls.cipher()[0]
            assert works and negotiated == cipher, negotiated
        except ssl.SSLError:
            assert not works, f"{cipher} was refused"


def test_requests_without_a_token_are_rate_limited(service):
    """A flood without a (well-formed) token gets JSON 429s from nginx; token holders go on."""
    statuses = []
    for _ in range(160):
        reply = service.get("/v2.1", headers={"X-Auth-Token": None})
        statuses.append(reply.status)
        if reply.status == 429:
            assert reply.headers["content-type"] == "application/json"
            assert reply.fault[:2] == ("overLimit", 429)
    assert 429 in statuses and statuses[0] == 200, statuses[:5]
    assert service.get("/flavors").status == 200, "a token's requests are not limited"
    time.sleep(1.5)  # 20 a second refill
    assert service.get("/v2.1", headers={"X-Auth-Token": None}).status == 200


def test_nginx_workers_never_run_as_root(service):
    """deploy/render-nginx, as root, runs nginx's workers as www-data, as production does."""
    if os.geteuid() != 0:
        pytest.skip("not root: nginx runs as the invoking user, workers included, and cannot switch users")
    config = service.nginx_conf.read_text()
    assert "\nuser www-data;\n" in config
    master = service.nginx.pid
    workers = subprocess.run(["ps", "-o", "user=", "--ppid", str(master)], capture_output=True, text=True).stdout.split()
    assert workers and set(workers) == {"www-data"}, workers
    assert service.get("/docs/").status == 200, "the workers read the docs"
    assert service.get("/flavors").status == 200, "and reach the worker's socket"


def _kept_request(connection, params, body=b""):
    """One request on a connection nginx-style kept open (FCGI_KEEP_CONN): returns the CGI output,
    read up to END_REQUEST, and leaves the connection open."""
    begin = fastcgi_begin(params)
    begin = begin[:8] + bytes([0, 1, 1]) + begin[11:]  # BEGIN_REQUEST flags: FCGI_KEEP_CONN
    connection.sendall(begin + fastcgi_record(5, body) + fastcgi_record(5, b""))
    data = b""
    while True:
        offset, records = 0, []
        while offset + 8 <= len(data):
            length, padding = int.from_bytes(data[offset + 4:offset + 6], "big"), data[offset + 6]
            if offset + 8 + length + padding > len(data):
                break
            records.append((data[offset + 1], data[offset + 8:offset + 8 + length]))
            offset += 8 + length + padding
        if any(kind == 3 for kind, _ in records):  # END_REQUEST
            return b"".join(content for kind, content in records if kind == 6)
        chunk = connection.recv(65536)
        assert chunk, f"the worker closed a kept connection before END_REQUEST: {data[:200]!r}"
        data += chunk


def test_kept_connections_never_hold_a_thread(fresh_service):
    """nginx keeps FastCGI connections open between requests (fastcgi_keep_conn). With one thread,
    an idle kept connection must not keep another connection waiting (libfcgi's own keeping pins
    a thread to it), both are served again and again, a kept connection whose body was left
    unread is closed, and SIGTERM serves a kept connection until its client lets it go."""
    import socket as sockets
    s = fresh_service
    s.start_worker("--threads", "1")
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/flavors", "REQUEST_ID": "req-kept",
              "HTTP_X_AUTH_TOKEN": s.token}
    kept = [sockets.socket(sockets.AF_UNIX) for _ in range(3)]
    for connection in kept:
        connection.settimeout(5)
        connection.connect(str(s.socket))
    for _ in range(3):
        for connection in kept:
            assert _kept_request(connection, params).startswith(b"Status: 200 ")
    # Three idle kept connections and one thread: a new connection is still answered.
    assert fastcgi_request(s.socket, params, timeout=5).startswith(b"Status: 200 ")

    over = {**params, "REQUEST_METHOD": "POST", "REQUEST_URI": "/servers", "CONTENT_LENGTH": "100000"}
    assert _kept_request(kept[0], over, b" " * 65535).startswith(b"Status: 413 ")
    try:
        rest = kept[0].recv(65536)
    except ConnectionResetError:
        rest = b""
    assert rest == b"", "closed after the response, not kept"

    s.worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert s.worker.poll() is None, "the worker waits while nginx may still use kept connections"
    assert _kept_request(kept[1], params).startswith(b"Status: 200 ")
    for connection in kept:
        connection.close()
    assert s.stop_worker(signal.SIGTERM) == 0
