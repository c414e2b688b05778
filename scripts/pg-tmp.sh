#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for running the tests against PostgreSQL.
#
#   eval "$(scripts/pg-tmp.sh start)"     # sets DATABASE_URL and PG_TMP_DIR
#   make test                             # tests now run on PostgreSQL
#   scripts/pg-tmp.sh stop "$PG_TMP_DIR"  # stops the server, deletes the cluster
#
# `start` (the default command) prints shell `export` lines on stdout and logs
# on stderr. The cluster lives in a new temporary directory (data, Unix socket,
# server log), listens on a free port on 127.0.0.1 only, trusts every local
# connection and has one superuser, `collab`. Durability is switched off
# (fsync, synchronous_commit, full_page_writes): it is for tests only.
#
# PostgreSQL refuses to run as root: as root the cluster is owned by the
# `postgres` system user (or `collabci`, created if neither exists).
#
# Needs initdb and pg_ctl: on PATH or in /usr/lib/postgresql/<version>/bin;
# `start` installs them with scripts/system-deps.sh when they are missing.
# Environment knobs:
#   PG_BIN       directory with initdb/pg_ctl (default: searched as above)
#   PG_TMP_BASE  where the temporary directory is created (default: /tmp)
#   PG_PORT      port to listen on (default: a free one)
set -euo pipefail

SUPERUSER="collab"

log() { printf 'pg-tmp: %s\n' "$*" >&2; }
die() { printf 'pg-tmp: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# Directory holding initdb and pg_ctl: $PG_BIN, PATH, then the newest
# /usr/lib/postgresql/<version>/bin.
find_bin_dir() {
    if [[ -n "${PG_BIN:-}" ]]; then
        [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || die "no initdb/pg_ctl in PG_BIN=$PG_BIN"
        printf '%s\n' "$PG_BIN"
        return
    fi
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)" && command -v pg_ctl >/dev/null 2>&1; then
        # Resolve symlinks so postgres itself is found next to them.
        dirname "$(readlink -f "$initdb")"
        return
    fi
    local dir
    dir="$(find_debian_bin_dir)" || die "initdb/pg_ctl not found (install PostgreSQL, e.g. apt-get install postgresql)"
    printf '%s\n' "$dir"
}

find_debian_bin_dir() {
    local d best="" best_version=-1 version
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] || continue
        version="$(basename "$(dirname "$d")")"
        version="${version%%.*}"
        [[ "$version" =~ ^[0-9]+$ ]] || continue
        if ((version > best_version)); then
            best="$d"
            best_version="$version"
        fi
    done
    [[ -n "$best" ]] || return 1
    printf '%s\n' "$best"
}

# The user the server runs as: the current one, or (as root) postgres/collabci.
pg_user() {
    if [[ "$(id -u)" != 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        if ! id collabci >/dev/null 2>&1; then
            log "creating system user collabci to run PostgreSQL (it refuses to run as root)"
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin collabci \
                || die "could not create user collabci"
        fi
        echo collabci
    fi
}

# as_user <user> <command...>: run a command as the cluster owner.
as_user() {
    local user="$1"
    shift
    if [[ "$(id -un)" == "$user" ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    elif command -v setpriv >/dev/null 2>&1; then
        setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
    else
        su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
}

free_port() {
    local py
    for py in "${PYTHON:-}" python3 python3.11 python; do
        [[ -n "$py" ]] && command -v "$py" >/dev/null 2>&1 && break
        py=""
    done
    [[ -n "$py" ]] || die "python is needed to pick a free port (or set PG_PORT)"
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# server_start <bin> <user> <dir> <port>: start the cluster's server (pg_ctl
# waits until it runs).
server_start() {
    local bin="$1" user="$2" dir="$3" port="$4"
    (
        cd "$dir"
        as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-k $dir/run -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null
    )
}

# wait_ready <bin> <port>: pg_ctl -w already waited; check over TCP, as the
# tests connect.
wait_ready() {
    local bin="$1" port="$2"
    for _ in $(seq 1 50); do
        if [[ -x "$bin/pg_isready" ]]; then
            "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$SUPERUSER" -d postgres && return 0
        elif (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

cmd_start() {
    local bin user dir port attempt
    # Installs the PostgreSQL server when it is missing (shared with make test).
    [[ -n "${PG_BIN:-}" ]] || "$(dirname "${BASH_SOURCE[0]}")/system-deps.sh" --postgres >&2
    bin="$(find_bin_dir)"
    user="$(pg_user)"
    dir="$(mktemp -d "${PG_TMP_BASE:-/tmp}/collab-pg.XXXXXX")"
    chmod 0755 "$dir"
    mkdir -p "$dir/data" "$dir/run"
    chmod 0700 "$dir/data"
    [[ "$(id -u)" != 0 ]] || chown -R "$user:" "$dir"
    log "$("$bin/pg_ctl" --version) in $dir (running as $user)"

    # The server's cwd must be readable by its user.
    (
        cd "$dir"
        as_user "$user" "$bin/initdb" -D "$dir/data" -U "$SUPERUSER" --auth=trust \
            --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1
    ) || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }

    local started=""
    for attempt in 1 2 3 4 5; do
        port="${PG_PORT:-$(free_port)}"
        if server_start "$bin" "$user" "$dir" "$port"; then
            started=1
            break
        fi
        log "start on port $port failed (attempt $attempt)"
        [[ -z "${PG_PORT:-}" ]] || break
    done
    if [[ -z "$started" ]]; then
        tail -n 30 "$dir/server.log" >&2 || true
        rm -rf "$dir"
        die "could not start PostgreSQL"
    fi
    printf '%s\n' "$port" >"$dir/port"  # for resume
    if ! wait_ready "$bin" "$port"; then
        tail -n 30 "$dir/server.log" >&2 || true
        cmd_stop "$dir"
        die "PostgreSQL did not become ready on 127.0.0.1:$port"
    fi

    log "ready on 127.0.0.1:$port; stop with: $0 stop $dir"
    printf 'export DATABASE_URL=%q\n' "postgresql+asyncpg://$SUPERUSER@127.0.0.1:$port/postgres"
    printf 'export PG_TMP_DIR=%q\n' "$dir"
    printf '# stop and delete: %q stop %q\n' "$0" "$dir"
}

cmd_stop() {
    local dir="${1:-${PG_TMP_DIR:-}}"
    [[ -n "$dir" ]] || die "usage: $0 stop <dir>"
    [[ -d "$dir" ]] || { log "$dir does not exist; nothing to stop"; return 0; }
    [[ "$(basename "$dir")" == collab-pg.* ]] || die "$dir is not a pg-tmp directory"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        local bin user
        bin="$(find_bin_dir)"
        user="$(stat -c %U "$dir/data")"
        (cd "$dir" && as_user "$user" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null) \
            || log "pg_ctl stop failed (server already gone?)"
    fi
    rm -rf "$dir"
    log "stopped and removed $dir"
}

check_dir() {
    [[ -n "$1" ]] || die "usage: $0 stop|pause|resume <dir>"
    [[ "$(basename "$1")" == collab-pg.* ]] || die "$1 is not a pg-tmp directory"
}

# The server stops (fast: sessions are ended, as in a real restart); the
# cluster stays for resume.
cmd_pause() {
    local dir="${1:-${PG_TMP_DIR:-}}" bin
    check_dir "$dir"
    bin="$(find_bin_dir)"
    (cd "$dir" && as_user "$(stat -c %U "$dir/data")" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null)
    log "paused $dir"
}

cmd_resume() {
    local dir="${1:-${PG_TMP_DIR:-}}" bin port
    check_dir "$dir"
    bin="$(find_bin_dir)"
    port="$(cat "$dir/port")"
    server_start "$bin" "$(stat -c %U "$dir/data")" "$dir" "$port" || die "could not start PostgreSQL again"
    wait_ready "$bin" "$port" || die "PostgreSQL did not become ready on 127.0.0.1:$port"
    log "resumed on 127.0.0.1:$port"
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop "${2:-}" ;;
    pause) cmd_pause "${2:-}" ;;
    resume) cmd_resume "${2:-}" ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
