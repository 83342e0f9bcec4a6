#!/usr/bin/env bash
# merit's one entry point for a fresh machine:
#   ./dev.sh demo [ARGS...]   set up, then run `merit demo` (writes ./merit-demo and evaluates it)
#   ./dev.sh test [ARGS...]   set up, then run the test suite (ARGS go to pytest)
#   ./dev.sh setup            only set up
#   ./dev.sh merit ARGS...    set up, then run any merit command
# Set-up is idempotent: Debian packages the PDFs need (a CJK font, HarfBuzz's
# subsetter, poppler's pdftotext) and the other backends' tests need (Java 17 for
# Spark, a PostgreSQL server) are installed only when missing, the virtualenv
# .venv is created once (again only if made from another Python) and
# re-installed only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")"

# Java 17 for Spark 4.0; `postgresql` for the server binaries only (/usr/lib/postgresql/15/bin):
# the tests start their own server on a free port, whatever the package's own cluster does.
DEB_PACKAGES=(fonts-noto-cjk libharfbuzz-subset0 poppler-utils openjdk-17-jre-headless postgresql python3-venv)
# Debian's own Python 3.11 when there is one: it is built with profile-guided and link-time
# optimisation, and runs merit (WeasyPrint's layout, Ibis's compiler) about 10 % faster than a
# Python built from source without them (docs/performance.md). PYTHON=... chooses another.
# (Chosen after the Debian packages are in: python3-venv is what gives it `venv`.)
choose_python() {
    [ -n "${PYTHON:-}" ] && return 0
    PYTHON=python3
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        PYTHON=/usr/bin/python3
    fi
}

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

# The interpreter a virtualenv was made from (its pyvenv.cfg), as a real path.
venv_base() { sed -n 's/^executable *= *//p' "$1/pyvenv.cfg" 2>/dev/null | xargs -r realpath 2>/dev/null; }

setup_python() {
    choose_python
    local base
    base=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
    if [ -x .venv/bin/python ] && [ "$(venv_base .venv)" != "$base" ]; then
        say "re-creating virtualenv .venv with $base"
        rm -rf .venv
    fi
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
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; [ "$cmd" = help ] || exit 2 ;;
esac
