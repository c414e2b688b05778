#!/usr/bin/env bash
# The system packages the test suite needs, installed only when missing.
#
#   scripts/system-deps.sh              # Chromium, Pango, fonts (make test)
#   scripts/system-deps.sh --postgres   # the same, plus the PostgreSQL server
#   scripts/system-deps.sh --no-browser # without Chromium (make test-fast)
#   scripts/system-deps.sh --check      # only say what is missing (exit 1 if any)
#
# Shared by `make test`, `scripts/pg-tmp.sh` and `.ci/run`, so a fresh machine
# gets the same packages whichever command a person runs first:
#   - chromium                        the browser tests (tests/browser) drive
#                                     Debian's /usr/bin/chromium with Playwright
#   - libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0
#                                     WeasyPrint (the verbale as PDF) loads them
#   - fonts-dejavu-core               the fonts both of them render with
#   - postgresql (--postgres)         initdb/pg_ctl for the throwaway cluster
#
# Installs with apt-get as root (or with `sudo -n`). Anyone else gets one line
# saying which command to run, and a non-zero exit. Nothing is installed when
# everything is present: a second run costs a few milliseconds.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

say() { printf 'system-deps: %s\n' "$*" >&2; }

have_postgres() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && return 0
    done
    return 1
}

# have_lib <soname>: in the dynamic linker's cache. (No `| grep -q`: with
# pipefail, grep quitting early could fail the pipeline on SIGPIPE.)
LDCACHE=""
have_lib() {
    if [[ -z "$LDCACHE" ]]; then
        local ldconfig
        ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
        LDCACHE="$("$ldconfig" -p 2>/dev/null || true)"
    fi
    [[ "$LDCACHE" == *"$1 ("* ]]
}

have_fonts() {
    [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]
}

# The Debian packages to install, one per line:
# missing_packages <with_postgres> <with_browser>
missing_packages() {
    if [[ "$2" == 1 ]]; then
        [[ -x "$CHROMIUM" ]] || echo chromium
    fi
    have_lib libpango-1.0.so.0 || echo libpango-1.0-0
    have_lib libpangoft2-1.0.so.0 || echo libpangoft2-1.0-0
    # Optional for WeasyPrint today (it warns without it), required by later versions.
    have_lib libharfbuzz-subset.so.0 || echo libharfbuzz-subset0
    have_fonts || echo fonts-dejavu-core
    if [[ "$1" == 1 ]]; then
        have_postgres || echo postgresql
    fi
    return 0
}

as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    else
        sudo -n "$@"
    fi
}

can_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [[ "$(id -u)" == 0 ]] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

install() {
    export DEBIAN_FRONTEND=noninteractive
    say "installing with apt-get: $*"
    as_root apt-get update -q >&2
    # Debian's postgresql package starts a cluster of its own; in a container
    # without an init system that may fail. No service starts while installing.
    local policy=/usr/sbin/policy-rc.d created_policy="" rc=0
    if [[ "$(id -u)" == 0 && ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    as_root apt-get install -y -q --no-install-recommends "$@" >&2 || rc=$?
    [[ -z "$created_policy" ]] || rm -f "$policy"
    return "$rc"
}

main() {
    local with_postgres=0 with_browser=1 check_only=0 arg
    for arg in "$@"; do
        case "$arg" in
        --postgres) with_postgres=1 ;;
        --no-browser) with_browser=0 ;;
        --check) check_only=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
            return 0
            ;;
        *)
            say "unknown argument: $arg (see --help)"
            return 2
            ;;
        esac
    done

    local missing
    mapfile -t missing < <(missing_packages "$with_postgres" "$with_browser")
    ((${#missing[@]} == 0)) && return 0
    if ((check_only)); then
        say "missing: ${missing[*]}"
        return 1
    fi
    if ! can_install; then
        say "the tests need ${missing[*]}; install them, then run the command again:" \
            "sudo apt-get install -y --no-install-recommends ${missing[*]}"
        return 1
    fi
    install "${missing[@]}"
    LDCACHE=""
    mapfile -t missing < <(missing_packages "$with_postgres" "$with_browser")
    if ((${#missing[@]} > 0)); then
        say "still missing after apt-get install: ${missing[*]}"
        return 1
    fi
    say "installed."
}

main "$@"
