#!/usr/bin/env python3
"""Restart under load: the listening socket is held the way systemd holds it, and the worker
is restarted (SIGTERM, then a new one on the same socket) while wrk drives reads and durable
creates through nginx. Prints: restarts, requests, failed (the target is 0 failed).

    python3 Tests/e2e/restart_under_load.py --restarts 20     (deploy/restart-test wraps this)

Each worker gets the socket as systemd's alliance-compute.socket passes it (fd 3, LISTEN_FDS,
LISTEN_PID) and runs with --bind systemd, as alliance-compute.service does.
"""
import argparse
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from service import BINARY, REPO, Service, share_socket  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
# systemd's protocol without systemd: the socket arrives on stdin; this shim moves it to fd 3 and
# sets LISTEN_FDS and LISTEN_PID (its own pid, which the worker keeps because of exec).
SHIM = 'exec 3<&0 0</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"'


class SocketHolder:
    """What alliance-compute.socket does: owns the listening socket across worker restarts."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.bind(str(self.path))
        share_socket(self.path)
        self.socket.listen(1024)

    def start_worker(self, data, log):
        return subprocess.Popen(
            ["sh", "-c", SHIM, "sh", BINARY, "serve", "--bind", "systemd", "--data-dir", str(data), "--threads", "4",
             "--network", "private=10.0.0.0/12"],  # room for every server the load creates
            stdin=self.socket.fileno(), stdout=log, stderr=log)

    def close(self):
        self.socket.close()
        self.path.unlink(missing_ok=True)


def run(restarts, interval, service_root=None):
    with tempfile.TemporaryDirectory(prefix="alliance-restart-") as root:
        root = pathlib.Path(service_root or root)
        tls = root / "tls"
        subprocess.run(["bash", "-c", f'. "{REPO}/deploy/lib.sh"; make_certificate "{tls}"'], check=True,
                       capture_output=True)
        service = Service(root, tls)
        holder = SocketHolder(service.socket)
        log = open(service.worker_log, "ab")
        worker = holder.start_worker(service.data, log)
        deadline = time.time() + 15
        while not (service.data / "store.json").exists() and time.time() < deadline:
            time.sleep(0.05)  # the socket listens already (held here); the data directory comes next
        token = service.make_token("default", "load", "admin")
        service.cli("quota", "set", "--project", "default", "--instances", "-1", "--cores", "-1", "--ram", "-1")
        service.start_nginx()
        exits = []
        try:
            duration = int(restarts * interval + 3)
            load = subprocess.Popen(
                ["wrk", "-t2", "-c32", f"-d{duration}s", "-s", str(HERE / "mixed.lua"), "-H", f"X-Auth-Token: {token}",
                 f"http://127.0.0.1:{service.http_port}"], stdout=subprocess.PIPE, text=True)
            time.sleep(1.5)
            for _ in range(restarts):
                worker.send_signal(signal.SIGTERM)
                exits.append(worker.wait(timeout=30))
                worker = holder.start_worker(service.data, log)
                time.sleep(interval)
            output = load.communicate(timeout=duration + 30)[0]
        finally:
            worker.send_signal(signal.SIGTERM)
            exits.append(worker.wait(timeout=30))
            service.stop_nginx()
            holder.close()
        requests = int(re.search(r"(\d+) requests in", output).group(1))
        failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
        failed += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
        return {"restarts": restarts, "requests": requests, "failed": failed, "worker_exits": exits,
                "log": service.log()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between restarts")
    options = parser.parse_args()
    result = run(options.restarts, options.interval)
    print(f"restarts {result['restarts']}, requests {result['requests']}, failed {result['failed']} "
          f"(every worker exited {set(result['worker_exits'])})")
    return 0 if result["failed"] == 0 and set(result["worker_exits"]) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
