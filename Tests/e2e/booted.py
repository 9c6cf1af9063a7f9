"""A Debian 12 machine with a real systemd, for testing the service as it is installed: a
minimal root made once with debootstrap (cached, keyed by what it installs), booted with
`systemd-nspawn -b` on an overlay of that root (so every boot starts fresh), in a network
namespace of its own joined to this host by a veth pair. The repository and the Swift runtime
are bound in read-only; commands run inside with nsenter. Everything is stopped by PID, the
overlay unmounted and the namespace deleted by `close()`, also after a failure.

Needs root, debootstrap and systemd-container (`deploy/test` installs them), and Debian's
package mirror the first time.
"""
import fcntl
import hashlib
import os
import pathlib
import shutil
import signal
import subprocess
import time

from service import REPO

SUITE = "bookworm"
MIRROR = os.environ.get("ALLIANCE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What the service needs on a fresh machine (deploy/install's ensure_packages finds it all, so it
# installs nothing), and systemd itself.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "nginx", "openssl", "curl", "iproute2", "procps", "libfcgi-dev",
            "libssl-dev", "libpcre2-dev", "libpq-dev"]
CACHE = pathlib.Path(os.environ.get("ALLIANCE_ROOT_CACHE", REPO / ".cache"))
SWIFT_RUNTIME = "/opt/swift"
# The host's end and the machine's end of the veth pair; a subnet per test process, so two suites
# running at once on one machine do not answer each other's requests.
_SUBNET = f"10.231.{os.getpid() % 200 + 20}"
HOST_ADDRESS, MACHINE_ADDRESS = f"{_SUBNET}.1", f"{_SUBNET}.2"


def unavailable():
    """Why a booted machine cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn, network namespaces)"
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (deploy/test installs it)"
    if not os.path.isdir(SWIFT_RUNTIME):
        return f"no Swift runtime in {SWIFT_RUNTIME} to bind into the machine"
    return None


def root_image():
    """The cached root for PACKAGES, made the first time (about two minutes); never changed after."""
    key = hashlib.sha256(" ".join([SUITE, MIRROR, *PACKAGES]).encode()).hexdigest()[:12]
    root = CACHE / f"debian-{SUITE}-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "etc/os-release").exists():
            partial = CACHE / f".partial-{key}"
            shutil.rmtree(partial, ignore_errors=True)
            # debootstrap installs systemd; apt (which resolves virtual packages such as libc-dev)
            # the rest, from inside the new root.
            subprocess.run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus", SUITE,
                            str(partial), MIRROR], check=True, capture_output=True, timeout=1200)
            subprocess.run(["systemd-nspawn", "-q", "--register=no", "--keep-unit", "-D", str(partial),
                            "--resolv-conf=copy-host", "--setenv=DEBIAN_FRONTEND=noninteractive", "sh", "-c",
                            f"apt-get update -q && apt-get install -y -q --no-install-recommends {' '.join(PACKAGES)}"],
                           check=True, capture_output=True, timeout=1200,
                           env=dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="0"))
            # Debian's default site would take port 80 first; deploy/install disables it itself.
            (partial / "etc/hostname").write_text("alliance-test\n")
            subprocess.run(["apt-get", "-o", f"Dir={partial}", "clean"], capture_output=True)
            partial.rename(root)
    return root


class BootedMachine:
    def __init__(self, work: pathlib.Path, binary: str):
        self.work = work
        self.binary = os.path.realpath(binary)
        self.name = f"acsd{os.getpid() % 100000}"
        self.nspawn = None
        self.leader = None
        self.mounted = False
        self.namespace = False

    # -- lifecycle ----------------------------------------------------------------------------

    def boot(self, timeout=120):
        lower = root_image()
        for part in ("upper", "work", "root"):
            (self.work / part).mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={self.work / 'upper'},workdir={self.work / 'work'}",
                        str(self.work / "root")], check=True)
        self.mounted = True
        self._network()
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="0")
        self.console = open(self.work / "console.log", "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-D", str(self.work / "root"), "-b",
             "--console=passive", f"--network-namespace-path=/run/netns/{self.name}",
             # As on a real host, systemd may configure the loopback device of PrivateNetwork=.
             "--capability=CAP_NET_ADMIN",
             f"--bind-ro={SWIFT_RUNTIME}", f"--bind-ro={REPO}:/srv/alliance-compute",
             f"--bind-ro={self.binary}:/srv/alliance-compute-bin"],
            stdout=self.console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        deadline = time.time() + timeout
        while self.leader is None:
            found = subprocess.run(["pgrep", "-P", str(self.nspawn.pid), "-x", "systemd"], capture_output=True,
                                   text=True).stdout.split()
            if found:
                self.leader = found[0]
            elif self.nspawn.poll() is not None or time.time() > deadline:
                raise RuntimeError("the machine did not boot: " + (self.work / "console.log").read_text()[-3000:])
            else:
                time.sleep(0.1)
        # Until systemd answers on its bus, then until it is up. Not yet: an empty answer (no bus),
        # or "offline" (systemctl finds no /run/systemd/system, which PID 1 makes in its first
        # moments: a machine under load was asked before that and failed every booted test).
        while (state := self.run("systemctl", "is-system-running", "--wait", check=False,
                                 timeout=timeout).stdout.strip()) in ("", "offline"):
            if time.time() > deadline:
                raise RuntimeError("systemd never answered: " + (self.work / "console.log").read_text()[-3000:])
            time.sleep(0.2)
        if state != "running":
            failed = self.run("systemctl", "--failed", "--no-pager", check=False).stdout
            console = (self.work / "console.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"systemd is {state!r}:\n{failed}\nconsole:\n{console}")
        return state

    def _network(self):
        host_end, machine_end = f"{self.name}h", f"{self.name}m"
        for command in (
                ["ip", "netns", "add", self.name],
                ["ip", "link", "add", host_end, "type", "veth", "peer", "name", machine_end],
                ["ip", "link", "set", machine_end, "netns", self.name],
                ["ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", host_end],
                ["ip", "link", "set", host_end, "up"],
                ["ip", "-n", self.name, "addr", "add", f"{MACHINE_ADDRESS}/30", "dev", machine_end],
                ["ip", "-n", self.name, "link", "set", machine_end, "up"],
                ["ip", "-n", self.name, "link", "set", "lo", "up"]):
            subprocess.run(command, check=True, capture_output=True)
            self.namespace = True

    def close(self):
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)  # the machine halts cleanly
            try:
                self.nspawn.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(timeout=30)
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.work / "root")], capture_output=True)
            self.mounted = False
        if self.namespace:
            subprocess.run(["ip", "link", "del", f"{self.name}h"], capture_output=True)
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            self.namespace = False
        shutil.rmtree(self.work / "upper", ignore_errors=True)

    # -- inside -------------------------------------------------------------------------------

    def run(self, *command, check=True, timeout=300, input=None):
        """Runs `command` inside the machine (all its namespaces), as root."""
        result = subprocess.run(["nsenter", "-t", self.leader, "-a", "--", *command], capture_output=True, text=True,
                                timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def sh(self, script, **kw):
        return self.run("sh", "-c", script, **kw)

    def journal(self, unit="alliance-compute", since=None):
        args = ["journalctl", "-u", unit, "--no-pager", "-o", "cat"]
        if since:
            args += ["--since", since]
        return self.run(*args).stdout

    def show(self, unit, prop):
        return self.run("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()
