"""Disk trouble: a full disk and a read-only data directory, on a real (small) tmpfs.

Writes get a 503 JSON fault naming the trouble, reads keep working, nothing stored is
damaged, /healthz reports it, and writes work again once the disk does."""
import os
import signal
import subprocess
import time

import pytest

from invariants import check_store


def health_recovers(s, within=5):
    """While degraded the store probes the disk at most once a second (a probe is an fsync'd
    write), so health comes back within about a second of the disk."""
    deadline = time.time() + within
    while s.get("/healthz").status != 200:
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def tmpfs(tmp_path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def remount(mount_point, mode):
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount_point)], check=True)


def fill(mount_point):
    """Writes until the filesystem is full; returns the filler file."""
    filler = mount_point / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def on_tmpfs(fresh_service, tmpfs):
    fresh_service.data = tmpfs / "data"
    return fresh_service.start()


def test_a_full_disk(fresh_service, tmpfs):
    s = on_tmpfs(fresh_service, tmpfs)
    kept = [s.create_server(f"kept-{i}").json["server"] for i in range(5)]
    filler = fill(tmpfs)

    for reply in (s.create_server("one-too-many"), s.create_server("many", min_count=3),
                  s.patch("/servers/kept-0", {"server": {"new_name": "renamed"}}),
                  s.post("/flavors", {"flavor": {"name": "f", "vcpus": 1, "ram": 1, "disk": 1}})):
        assert reply.status == 503, reply
        assert reply.fault == ("serviceUnavailable", 503,
                               "The service cannot save changes right now: its storage is full. Try again later.")
    # Reads keep working, and show nothing of the refused writes.
    assert [x["name"] for x in s.get("/servers").json["servers"]] == [f"kept-{i}" for i in range(4, -1, -1)]
    assert s.get("/servers/kept-0").json["server"] == kept[0]
    health = s.get("/healthz")
    assert health.status == 503
    assert health.json["status"] == "degraded"
    assert health.json["store"] == {"writable": False, "problem": "storage is full", "damaged_files": 0}
    check_store(s)

    filler.unlink()
    assert health_recovers(s), "health recovers with the space"
    assert s.create_server("after").status == 200
    assert s.create_server("many", min_count=3).status == 200
    assert len(check_store(s)) == 9


def test_deleting_works_on_a_full_disk(fresh_service, tmpfs):
    s = on_tmpfs(fresh_service, tmpfs)
    s.create_server("doomed")
    fill(tmpfs)
    assert s.delete("/servers/doomed").status == 204
    assert check_store(s) == []


def test_a_directory_that_becomes_read_only(fresh_service, tmpfs):
    s = on_tmpfs(fresh_service, tmpfs)
    kept = s.create_server("kept").json["server"]
    remount(tmpfs, "ro")
    try:
        for reply in (s.create_server("refused"), s.delete("/servers/kept")):
            assert reply.status == 503, reply
            assert reply.fault[2] == "The service cannot save changes right now: its storage is read-only. Try again later."
        assert s.get("/servers/kept").json["server"] == kept
        assert s.get("/healthz").json["store"]["problem"] == "storage is read-only"
    finally:
        remount(tmpfs, "rw")
    assert health_recovers(s)
    assert s.delete("/servers/kept").status == 204
    assert check_store(s) == []


def test_starting_on_a_read_only_directory_serves_reads(fresh_service, tmpfs):
    s = on_tmpfs(fresh_service, tmpfs)
    kept = s.create_server("kept").json["server"]
    half = s.create_server("half-made").json["server"]
    assert s.stop_worker() == 0
    # What a crash in the middle of a multi-create leaves: an intent naming a record.
    (s.data / "intents" / "crashed.json").write_text(
        '{"format": 1, "records": [{"kind": "servers", "key": "%s"}]}' % half["id"])
    remount(tmpfs, "ro")
    try:
        s.start_worker()
        assert s.get("/servers/kept").json["server"] == kept
        assert s.get("/servers/half-made").status == 404, "a commit it cannot roll back is not served"
        assert s.create_server("refused").status == 503
        assert s.get("/healthz").json["store"]["problem"] == "storage is read-only"
        assert "cannot roll back the unfinished commit intents/crashed.json" in s.log()
        assert s.stop_worker(signal.SIGTERM) == 0
    finally:
        remount(tmpfs, "rw")
    s.start_worker()
    assert "rolled back an unfinished commit of 1 records (intents/crashed.json)" in s.log()
    assert [x["name"] for x in check_store(s)] == ["kept"]
