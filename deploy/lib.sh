# Shared by the deploy/ scripts. Source it; it defines functions and $repo only.
# shellcheck shell=bash

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The calling script's usage: its leading comment block, without the "# ".
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
# Answers -h or --help with the usage, before anything is installed, built or started.
answer_help() {
  local argument
  for argument in "$@"; do
    case $argument in -h | --help) usage; exit 0 ;; esac
  done
}

# The Swift toolchain: on PATH, or where the machine image puts it.
ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    [ -x /opt/swift/usr/bin/swift ] || die "swift is not installed (expected on PATH or in /opt/swift)"
    export PATH=/opt/swift/usr/bin:$PATH
  fi
}

# ensure_packages [extra debian packages...]: installs what is missing with apt, only as
# root and only when something is missing; otherwise says what to install.
ensure_packages() {
  local missing=() pkg
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  [ -f /usr/include/fcgiapp.h ] || missing+=(libfcgi-dev)
  [ -f /usr/include/openssl/evp.h ] || missing+=(libssl-dev)
  [ -f /usr/include/pcre2.h ] || missing+=(libpcre2-dev)
  [ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  for pkg in "$@"; do
    case $pkg in
      python3-venv) python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv) ;;
      *) dpkg -s "$pkg" >/dev/null 2>&1 || command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing: ${missing[*]}. Install them (sudo apt-get install ${missing[*]}) or run this as root."
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# summarize FILTER COMMAND…: runs COMMAND; shows the lines matching FILTER when it succeeds,
# the end of its output when it fails (and then fails too).
summarize() {
  local filter=$1 output
  shift
  output=$(mktemp)
  if "$@" > "$output" 2>&1; then
    grep -E "$filter" "$output" || true
    rm -f "$output"
  else
    tail -n 80 "$output"
    # What failed, which the last lines of a long run may not include: the sanitizers'
    # one-line summaries and the tests' recorded issues.
    grep -E '^SUMMARY: [A-Za-z]+Sanitizer' "$output" | sort | uniq -c | head -n 20 || true
    grep -E 'recorded an issue|^✘ Test .* failed' "$output" | head -n 20 || true
    rm -f "$output"
    return 1
  fi
}

# make_certificate DIR: a self-signed certificate for localhost in DIR/{fullchain,privkey}.pem,
# unless one is already there.
make_certificate() {
  local dir=$1
  [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ] && return 0
  log "creating a self-signed certificate for localhost in $dir"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
  chmod 600 "$dir/privkey.pem"
}

# nginx_worker_group: the group whose members may connect to the worker's socket in a local
# run: www-data when started as root (deploy/render-nginx runs nginx's workers as www-data),
# else none (nginx runs as the same user as the worker). Prints it, or nothing.
nginx_worker_group() {
  if [ "$(id -u)" = 0 ]; then echo www-data; fi
}

# local_run_dir DEFAULT: where a local run keeps what nginx's workers touch (socket, temporary
# files, a copy of the docs): DEFAULT, unless started as root with DEFAULT where www-data
# cannot reach it (a checkout under /root), then a directory of its own in /run (one per
# DEFAULT, so two runs side by side stay apart). Prints it; creates it.
local_run_dir() {
  local dir
  mkdir -p "$1"
  dir=$(cd "$1" && pwd -P)
  if [ "$(id -u)" = 0 ] && ! runuser -u www-data -- test -x "$dir" 2>/dev/null; then
    dir=/run/alliance-compute-local/$(printf '%s' "$dir" | sha256sum | cut -c1-12)
    install -d -m 0755 /run/alliance-compute-local "$dir"
  fi
  echo "$dir"
}

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# listens_as PID PORT: true when process PID (nginx's master) holds the socket listening on
# 127.0.0.1:PORT (its workers share that socket, so their parent is checked too).
listens_as() {
  local pid=$1 port=$2 holder
  for holder in $(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2); do
    [ "$holder" = "$pid" ] && return 0
    [ "$(ps -o ppid= -p "$holder" 2>/dev/null | tr -d ' ')" = "$pid" ] && return 0
  done
  return 1
}

# build_release: builds the worker; prints the binary's path.
build_release() {
  ensure_swift
  (cd "$repo" && swift build -c release --product alliance-compute >&2)
  echo "$repo/.build/release/alliance-compute"
}

# wait_for_socket PATH PID: until the worker listens on PATH, or fails if PID exits.
wait_for_socket() {
  local socket=$1 pid=$2 i
  for i in $(seq 1 200); do
    [ -S "$socket" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# ensure_venv NAME REQUIREMENTS: the Python virtualenv $repo/.venv-NAME with the packages of
# Tests/e2e/REQUIREMENTS, rebuilt when that file changes. Prints its python.
ensure_venv() {
  local venv=$repo/.venv-$1 requirements=$repo/Tests/e2e/$2
  if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
    log "creating the virtualenv $venv ($2)"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/.requirements"
  fi
  echo "$venv/bin/python"
}

# The end-to-end tools (pytest, the OpenStack clients, tempest): .venv-test.
ensure_test_venv() { ensure_venv test requirements.txt; }

# Ansible with the openstack.cloud collection, beside an openstacksdk that collection can use
# (older than the test venv's): .venv-ansible.
ensure_ansible_venv() { ensure_venv ansible requirements-ansible.txt; }

# The PostgreSQL server binaries (Debian's postgresql package, any version it ships).
postgres_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] || return 1
  echo "$dir"
}

# start_test_postgres DIR: a throwaway PostgreSQL cluster in DIR (created on the first call;
# owned by the postgres user, since initdb and postgres refuse root), listening on a unix
# socket in DIR only, no TCP, durable as in production (fsync on). Called again on a cluster
# that was killed, it starts it again (crash recovery), on the same port. Prints its
# connection URL; stop_test_postgres DIR stops it.
start_test_postgres() {
  local dir=$1 bin
  bin=$(postgres_bin) || die "PostgreSQL is not installed (apt-get install postgresql)"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    install -d -m 0755 -o postgres -g postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    cat >> "$dir/data/postgresql.conf" <<CONF
port = $((20000 + RANDOM % 20000))
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 300
fsync = on
synchronous_commit = on
CONF
  fi
  # Lock files (the data directory's, the socket's) whose process is gone (killed with SIGKILL;
  # its PID may since belong to another process, which postgres cannot tell from itself as
  # another user) are stale.
  local lock
  for lock in "$dir/data/postmaster.pid" "$dir"/.s.PGSQL.*.lock; do
    [ -f "$lock" ] || continue
    postgres_running "$(head -n 1 "$lock")" || rm -f "$lock"
  done
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$dir/log" >&2; die "the test PostgreSQL did not start"; }
  echo "postgresql:///postgres?host=$dir&port=$(sed -n "s/^port = //p" "$dir/data/postgresql.conf")&user=postgres"
}

# postgres_running PID: whether PID is a live (not zombie) postgres process.
postgres_running() {
  [ "$(ps -o comm= -p "$1" 2>/dev/null)" = postgres ] && [[ "$(ps -o stat= -p "$1")" != Z* ]]
}

# stop_test_postgres DIR: stops the cluster by its postmaster's PID (a fast shutdown).
stop_test_postgres() {
  local dir=$1 pid
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pid=$(head -n 1 "$dir/data/postmaster.pid")
  postgres_running "$pid" || return 0
  kill -INT "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
