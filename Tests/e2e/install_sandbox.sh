#!/usr/bin/env bash
# Runs deploy/install on this machine as if it were fresh, without changing it: in a private
# mount and network namespace (unshare --mount --net), /etc, /usr and /var are overlays whose
# changes land in WORK and vanish with the namespace, and /run is a new tmpfs. Then it checks the
# result the way an operator would, including serving HTTPS through the installed nginx site.
# Prints "ok NAME" or "FAIL NAME: why" per check; exits 1 if any failed.
#
# usage (as root): unshare --mount --net --propagation private bash install_sandbox.sh WORK [DATABASE-URL]
#   with DATABASE-URL (a PostgreSQL reachable over a unix socket outside /etc, /usr and /var):
#   the install with --database instead, and the way back to files
set -uo pipefail
work=$1
database=${2:-}
repo=$(cd "$(dirname "$0")/../.." && pwd)
failed=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else fail "$name" "$*"; fi; }

for d in etc usr var; do
  mkdir -p "$work/upper/$d" "$work/work/$d"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/upper/$d,workdir=$work/work/$d" "/$d" || exit 3
done
mount -t tmpfs tmpfs /run || exit 3
ip link set lo up

# serve_installed [ENV-FILE]: the socket as alliance-compute.socket makes it and the worker as
# alliance-compute.service runs it (with the unit's EnvironmentFile, if given), in the
# background; its holder's PID in $holder.
serve_installed() {
  mkdir -p /run/alliance-compute
  ALLIANCE_ENV_FILE=${1:-} python3 - <<'PY' &
import os, grp, pwd, socket, subprocess, signal
path = "/run/alliance-compute/fcgi.sock"
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1024)
os.chown(path, pwd.getpwnam("alliance-compute").pw_uid, grp.getgrnam("www-data").gr_gid); os.chmod(path, 0o660)
env = {"PATH": "/usr/bin:/bin"}
if os.environ["ALLIANCE_ENV_FILE"]:  # KEY="VALUE" lines, as systemd reads them
    for line in open(os.environ["ALLIANCE_ENV_FILE"]):
        key, _, value = line.strip().partition("=")
        env[key] = value[1:-1].replace('\\"', '"').replace("\\\\", "\\") if value.startswith('"') else value
worker = subprocess.Popen(["setpriv", "--reuid=alliance-compute", "--regid=alliance-compute", "--clear-groups",
    "sh", "-c", 'exec 3<&0 0</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"', "sh",
    "/usr/local/bin/alliance-compute", "serve", "--bind", "systemd", "--config",
    "/etc/alliance-compute/alliance-compute.toml"],
    stdin=s.fileno(), stderr=open("/run/alliance-compute/worker.log", "ab"), env=env)
# Forward SIGTERM; the wait below returns when the worker has drained and exited.
signal.signal(signal.SIGTERM, lambda *_: worker.terminate())
worker.wait()
PY
  holder=$!
  nginx || fail "nginx starts with the installed site" "see /var/log/nginx/error.log"
  for _ in $(seq 1 100); do curl -sfk -o /dev/null https://127.0.0.1/healthz && break; sleep 0.1; done
}

if [ -n "$database" ]; then
  env_file=/etc/alliance-compute/database.env dropin=/etc/systemd/system/alliance-compute.service.d/database.conf
  "$repo/deploy/install" --database "$database" > "$work/install-db.log" 2>&1 \
    && ok "install --database" || { cat "$work/install-db.log"; fail "install --database" "failed"; exit 1; }
  check "the environment file is root's, 0600, and names the database" bash -c \
    "[ \"\$(stat -c '%U %a' $env_file)\" = 'root 600' ] && grep -qF 'ALLIANCE_DATABASE_URL=\"$database\"' $env_file"
  check "the unit reads it and may reach the network" bash -c "grep -q '^EnvironmentFile=$env_file' $dropin && grep -q '^PrivateNetwork=no' $dropin"
  verify=$(systemd-analyze verify /etc/systemd/system/alliance-compute.service 2>&1)
  [ $? = 0 ] && ! grep -q alliance-compute <<<"$verify" && ok "systemd-analyze verify accepts the unit and drop-in" \
    || fail "systemd-analyze verify" "$verify"
  check "the schema is this release's" psql -X -q -A -t -d "$database" -c "SELECT 1 FROM schema_version WHERE version = 1"
  grep -q "check" "$work/install-db.log" && grep -q "set -a; . $env_file" "$work/install-db.log" \
    && ok "says how to run the CLI on the database" || fail "CLI hint" "$(tail -8 "$work/install-db.log")"
  serve_installed "$env_file"
  token=$(set -a; . "$env_file"; /usr/local/bin/alliance-compute token create --project ops --user installer --role admin 2>/dev/null)
  check "a server is created over https, into the database" bash -c "curl -sfk -H 'X-Auth-Token: $token' https://127.0.0.1/servers -d '{\"server\": {\"name\": \"in-db\", \"flavor\": \"m1.tiny\", \"image\": \"cirros\"}}' | grep -q '\"name\":\"in-db\"' && psql -X -A -t -d '$database' -c \"SELECT name FROM servers\" | grep -qx in-db"
  check "no record file in the data directory" bash -c '! ls /var/lib/alliance-compute/servers/ 2>/dev/null | grep -q .'
  nginx -s quit
  kill -TERM $holder; wait $holder
  "$repo/deploy/install" > "$work/install-db2.log" 2>&1 && ok "install again keeps the database" || fail "install again" "$(tail -5 "$work/install-db2.log")"
  check "the database settings are kept" test -s "$env_file" -a -s "$dropin"
  "$repo/deploy/install" --files > "$work/install-files.log" 2>&1 && ok "install --files" || fail "install --files" "$(tail -5 "$work/install-files.log")"
  check "--files removes the database settings" bash -c "[ ! -e $env_file ] && [ ! -e $dropin ]"
  "$repo/deploy/uninstall" --purge > "$work/purge.log" 2>&1 && ok "uninstall --purge" || fail "uninstall --purge" "$(tail -5 "$work/purge.log")"
  exit $failed
fi

# 1. A fresh install (systemd is not running in here, so it installs without starting).
"$repo/deploy/install" > "$work/install1.log" 2>&1 || { cat "$work/install1.log"; fail install "deploy/install failed"; exit 1; }
ok install
check "nginx -t accepts the installed configuration" nginx -t -q
verify=$(systemd-analyze verify /etc/systemd/system/alliance-compute.socket /etc/systemd/system/alliance-compute.service 2>&1)
[ $? = 0 ] && ! grep -q alliance-compute <<<"$verify" && ok "systemd-analyze verify accepts the units" \
  || fail "systemd-analyze verify" "$verify"
check "system user alliance-compute" getent passwd alliance-compute
check "worker installed, executable" test -x /usr/local/bin/alliance-compute
check "data directory owned by the user, 0750" bash -c '[ "$(stat -c "%U %a" /var/lib/alliance-compute)" = "alliance-compute 750" ]'
check "private key readable by nginx only" bash -c '[ "$(stat -c "%U %G %a" /etc/alliance-compute/tls/privkey.pem)" = "root www-data 640" ]'
check "site enabled, Debian default disabled" bash -c '[ -L /etc/nginx/sites-enabled/alliance-compute ] && [ ! -e /etc/nginx/sites-enabled/default ]'
check "docs and error pages installed" test -s /usr/share/alliance-compute/docs/index.html -a -s /usr/share/alliance-compute/errors/502.json
check "the commented configuration file installed and accepted" /usr/local/bin/alliance-compute config check

# 2. Serve it the way systemd would: the socket as alliance-compute.socket makes it, the worker
#    as alliance-compute.service runs it, nginx with Debian's own nginx.conf on ports 80 and 443.
serve_installed
check "https://localhost/healthz answers 200" curl -sfk https://127.0.0.1/healthz
check "http redirects to https" bash -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{redirect_url}" http://127.0.0.1/servers)" = "301 https://127.0.0.1/servers" ]'
token=$(/usr/local/bin/alliance-compute token create --data-dir /var/lib/alliance-compute --project ops --user installer --role admin 2>/dev/null)
check "root makes a token the worker's user owns" bash -c '[ "$(stat -c "%U %a" /var/lib/alliance-compute/tokens/*.json)" = "alliance-compute 600" ]'
check "no token: 401" bash -c '[ "$(curl -sk -o /dev/null -w "%{http_code}" https://127.0.0.1/servers)" = 401 ]'
check "a server is created over https" bash -c "curl -sfk -H 'X-Auth-Token: $token' https://127.0.0.1/servers -d '{\"server\": {\"name\": \"installed\", \"flavor\": \"m1.tiny\", \"image\": \"cirros\"}}' | grep -q '\"name\":\"installed\"'"
check "the record is a file owned by the worker's user" bash -c '[ "$(stat -c %U /var/lib/alliance-compute/servers/*.json)" = alliance-compute ]'
check "docs served" curl -sfk https://127.0.0.1/docs/
check "errors are JSON through the installed site" bash -c '[ "$(curl -sk -o /dev/null -w "%{http_code} %{content_type}" https://127.0.0.1/nowhere)" = "404 application/json" ]'
check "alliance-compute check passes on the installed data" setpriv --reuid=alliance-compute --regid=alliance-compute --clear-groups /usr/local/bin/alliance-compute check --data-dir /var/lib/alliance-compute
nginx -s quit
kill -TERM $holder; wait $holder

# 3. Again: an upgrade in place keeps the data and the certificate.
cert=$(sha256sum /etc/alliance-compute/tls/fullchain.pem)
"$repo/deploy/install" > "$work/install2.log" 2>&1 && ok "install again (upgrade)" || fail "install again" "$(tail -5 "$work/install2.log")"
check "the certificate is kept" bash -c "[ \"\$(sha256sum /etc/alliance-compute/tls/fullchain.pem)\" = '$cert' ]"
check "the data is kept" bash -c 'ls /var/lib/alliance-compute/servers/*.json'
grep -q "keeping the certificate" "$work/install2.log" && ok "says it keeps the certificate" || fail "keep message" "-"

# 4. Uninstall keeps data, certificate and user; --purge removes them.
"$repo/deploy/uninstall" > "$work/uninstall.log" 2>&1 && ok uninstall || fail uninstall "$(tail -5 "$work/uninstall.log")"
check "worker, units, site and docs removed" bash -c '[ ! -e /usr/local/bin/alliance-compute ] && [ ! -e /etc/systemd/system/alliance-compute.service ] && [ ! -e /etc/nginx/sites-available/alliance-compute ] && [ ! -e /usr/share/alliance-compute ]'
check "data, certificate and user kept" bash -c 'ls /var/lib/alliance-compute/servers/*.json && [ -s /etc/alliance-compute/tls/privkey.pem ] && getent passwd alliance-compute'
check "Debian default site restored" test -L /etc/nginx/sites-enabled/default
"$repo/deploy/uninstall" --purge > "$work/purge.log" 2>&1 && ok "uninstall --purge" || fail "uninstall --purge" "$(tail -5 "$work/purge.log")"
check "purge removed data, certificate and user" bash -c '[ ! -e /var/lib/alliance-compute ] && [ ! -e /etc/alliance-compute ] && ! getent passwd alliance-compute'
exit $failed
