"""A data directory written by the previous release (Tests/e2e/fixtures/data-bcd9ea6: made by
bcd9ea6's worker and CLI through nginx) loads whole under this one: every server, flavor, token
and quota override, nothing set aside. A format change that forgot old records once set every
flavor aside as damaged on upgrade."""
import shutil

from service import REPO, Service

FIXTURE = REPO / "Tests/e2e/fixtures/data-bcd9ea6"
# The member token bcd9ea6's `token create --project web --user ada` printed for the fixture.
ADA = "fd7c5f8abb57.01e36a06fe9d7c4fee3c07414fc65a293e6200a76f94a20dde40b251478f066f"


def test_the_previous_releases_data_directory_loads_whole(tmp_path, tls_dir):
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root / "data")
    s = Service(root, tls_dir, store="files")
    try:
        s.start()
        assert "set aside" not in s.log() and "damaged" not in s.log().replace("(0 damaged files)", ""), s.log()
        servers = {x["name"]: x for x in s.get("/servers?all_tenants=1").json["servers"]}
        assert {"web-1", "db-1"} <= set(servers), servers
        db = s.get(f"/servers/{servers['db-1']['id']}").json["server"]
        assert db["metadata"] == {"role": "db"} and db["flavor"]["name"] == "m1.medium"
        flavors = {f["name"] for f in s.get("/v2.1/flavors?is_public=none").json["flavors"]}
        assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "private-gpu"} <= flavors, flavors
        quota = s.get("/v2.1/os-quota-sets/web").json["quota_set"]
        assert quota["instances"] == 7
        member = s.get("/flavors", headers={"X-Auth-Token": ADA})
        assert member.status == 200 and "private-gpu" not in member.body.decode()
        # And it keeps working: a change is written in this release's format and reads back.
        assert s.patch(f"/servers/{db['id']}", {"server": {"new_name": "db-2"}}).status == 200
        s.stop_worker()
        s.start_worker()
        assert s.get(f"/servers/{db['id']}").json["server"]["name"] == "db-2"
    finally:
        s.close()
