"""Ansible's openstack.cloud collection (the `ansible` package from PyPI bundles it) against the
service, as an operator's playbook would run it: a clouds.yaml with a password, a server created
with `openstack.cloud.server` (waiting for ACTIVE), read with `server_info`, and deleted. Ansible
runs from a virtualenv of its own (deploy/test makes it: Tests/e2e/requirements-ansible.txt), as its
collection needs an older openstacksdk than the other clients'."""
import json
import os
import pathlib
import subprocess
import uuid

from service import REPO
from test_identity import clouds_yaml, make_user, password_auth

# The virtualenv's python (deploy/test exports it); the playbook runs its modules with it too.
PYTHON = pathlib.Path(os.environ.get("ALLIANCE_ANSIBLE_PYTHON", REPO / ".venv-ansible/bin/python"))

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: create a server
      openstack.cloud.server:
        cloud: ops
        name: "{{ server_name }}"
        image: cirros
        flavor: m1.small
        network: private
        auto_ip: false
        wait: true
        timeout: 120
      register: created

    - name: read it back
      openstack.cloud.server_info:
        cloud: ops
        name: "{{ server_name }}"
      register: found

    - name: report
      ansible.builtin.copy:
        dest: "{{ report }}"
        content: "{{ {'created': created.server, 'found': found.servers, 'changed': created.changed} | to_json }}"

    - name: delete it
      openstack.cloud.server:
        cloud: ops
        name: "{{ server_name }}"
        state: absent
        wait: true
"""


def test_a_playbook_creates_reads_and_deletes_a_server(service, tmp_path):
    assert PYTHON.exists(), f"{PYTHON} is missing: deploy/test makes it (ensure_ansible_venv in deploy/lib.sh)"
    password = make_user(service, "ansible-" + uuid.uuid4().hex[:6], project="ansible")
    user = [line.split()[0] for line in service.cli("user", "list").splitlines() if line.startswith("ansible-")][0]
    config = clouds_yaml(service, tmp_path, {"ops": password_auth(user, password, project="ansible")})
    (tmp_path / "play.yml").write_text(PLAY)
    name, report = f"ansible-{uuid.uuid4().hex[:8]}", tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(config), ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(PYTHON.parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={PYTHON}",
         "-e", f"server_name={name}", "-e", f"report={report}", str(tmp_path / "play.yml")],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    seen = json.loads(report.read_text())
    assert seen["changed"] is True
    assert seen["created"]["name"] == name and seen["created"]["status"] == "ACTIVE"
    assert [s["name"] for s in seen["found"]] == [name]
    assert seen["found"][0]["addresses"]["private"][0]["addr"].startswith("10.0.")
    # The play's last task deleted it.
    listing = service.get(f"/v2.1/servers?name=^{name}$&all_tenants=1")
    assert listing.status == 200 and listing.json["servers"] == []
