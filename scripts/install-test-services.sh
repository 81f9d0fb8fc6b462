#!/usr/bin/env bash
# Services the test suite needs, installed only when missing (idempotent):
#  - the PostgreSQL server (Debian package `postgresql`: initdb, pg_ctl, postgres);
#    tests/store/postgres.py starts a throw-away cluster per test process;
#  - the system user `gridint-pg` that runs it (PostgreSQL refuses to run as root).
#  - Debian's Chromium (/usr/bin/chromium) that the browser tests of tests/web drive with
#    Playwright (browsers cannot be downloaded: never `playwright install`).
# psycopg and playwright (the Python sides) come with the `test` extra of pyproject.toml.
set -euo pipefail

have_pg() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null 2>&1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

if ! have_pg; then
    echo "install-test-services: installing the PostgreSQL server (apt-get install postgresql)"
    if command -v apt-get >/dev/null 2>&1; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql >/dev/null
    else
        echo "install-test-services: no apt-get; install the PostgreSQL server (initdb, pg_ctl) by hand" >&2
        exit 1
    fi
fi

if [ "$(id -u)" -eq 0 ] && ! id gridint-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gridint-pg
    echo "install-test-services: created system user gridint-pg (runs the test PostgreSQL)"
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "install-test-services: installing Chromium for the browser tests (apt-get install chromium)"
    if command -v apt-get >/dev/null 2>&1; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium fonts-dejavu-core >/dev/null
    else
        echo "install-test-services: no apt-get; install Chromium at /usr/bin/chromium by hand" >&2
        exit 1
    fi
fi
exit 0
