import pathlib
import subprocess

import pytest

from service import REPO, Service


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory):
    """One self-signed certificate for 127.0.0.1, made the way deploy/run-local makes it."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["bash", "-c", f'. "{REPO}/deploy/lib.sh"; make_certificate "{directory}"'], check=True,
                   capture_output=True)
    return directory


@pytest.fixture(scope="module")
def service(tmp_path_factory, tls_dir):
    """nginx + worker shared by a module's tests (tests use their own names)."""
    s = Service(tmp_path_factory.mktemp("service"), tls_dir).start()
    yield s
    s.close()


@pytest.fixture
def fresh_service(tmp_path, tls_dir):
    """nginx + worker of the test's own, for tests that stop, kill or restart them."""
    s = Service(pathlib.Path(tmp_path), tls_dir)
    yield s
    s.close()
