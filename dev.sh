#!/usr/bin/env bash
# merit's one entry point for a fresh machine:
#   ./dev.sh demo [ARGS...]   set up, then run `merit demo` (writes ./merit-demo and evaluates it)
#   ./dev.sh test [ARGS...]   set up, then run the test suite (ARGS go to pytest)
#   ./dev.sh setup            only set up
#   ./dev.sh merit ARGS...    set up, then run any merit command
# Set-up is idempotent: Debian packages the PDFs need (a CJK font, HarfBuzz's
# subsetter, poppler's pdftotext) and the other backends' tests need (Java 17 for
# Spark, a PostgreSQL server) are installed only when missing, the virtualenv
# .venv is created once and re-installed only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")"

# Java 17 for Spark 4.0; `postgresql` for the server binaries only (/usr/lib/postgresql/15/bin):
# the tests start their own server on a free port, whatever the package's own cluster does.
DEB_PACKAGES=(fonts-noto-cjk libharfbuzz-subset0 poppler-utils openjdk-17-jre-headless postgresql)
PYTHON=${PYTHON:-python3}

say() { printf '==> %s\n' "$*" >&2; }

setup_debian() {
    command -v dpkg >/dev/null 2>&1 || { say "not a Debian system: install ${DEB_PACKAGES[*]} yourself"; return 0; }
    local missing=()
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    # slim Debian images drop /usr/share/man, and Java's post-install step fails without it
    $sudo mkdir -p /usr/share/man/man1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
    if [ ! -x .venv/bin/python ]; then
        say "creating virtualenv .venv"
        "$PYTHON" -m venv .venv
    fi
    local stamp=.venv/.merit-installed
    local want
    want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing merit and its Python packages into .venv"
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        .venv/bin/python -m pip install -q -e ".[test,spark,postgres]"
        echo "$want" > "$stamp"
    fi
}

setup() { setup_debian; setup_python; }

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    demo) setup; exec .venv/bin/merit demo "$@" ;;
    test) setup; exec .venv/bin/python -m pytest "$@" ;;
    merit) setup; exec .venv/bin/merit "$@" ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; [ "$cmd" = help ] || exit 2 ;;
esac
