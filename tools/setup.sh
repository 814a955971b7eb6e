#!/usr/bin/env bash
# Idempotent machine set-up for sdnlab: Debian packages, Open vSwitch running, .venv with the
# project installed (editable, with test extras). Safe to run any number of times; it does
# only what is missing. Usage: tools/setup.sh   (as root, on Linux)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(uname -s)" = "Linux" ] || die "sdnlab needs Linux (network namespaces, Open vSwitch); this is $(uname -s)."
[ "$(id -u)" = "0" ] || die "sdnlab builds real networks and must run as root (try: sudo make setup)."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "Python >= 3.11 is needed as '$PYTHON' (found $("$PYTHON" --version 2>&1))."

# Debian packages, by the binary each one provides.
declare -A PKG_FOR=(
    [ovs-vsctl]=openvswitch-switch [mnexec]=mininet [iperf3]=iperf3 [iperf]=iperf
    [tcpdump]=tcpdump [ethtool]=ethtool [ping]=iputils-ping [ip]=iproute2 [dot]=graphviz
    [tshark]=tshark [nft]=nftables [ndpiReader]=libndpi-bin [curl]=curl [conntrack]=conntrack
    [chromium]=chromium [firefox-esr]=firefox-esr [npm]=npm [runuser]=util-linux
    [pdftotext]=poppler-utils [fc-list]=fontconfig
)
missing=()
for bin in "${!PKG_FOR[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("${PKG_FOR[$bin]}")
done
# a Japanese font, or Chromium prints the Japanese certificate's text as boxes: IPAex Gothic is the
# smallest well-kept one in Debian (6 MB; fonts-noto-cjk is 90 MB)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=ja family 2>/dev/null)" ]; then
    missing+=(fonts-ipaexfont-gothic)
fi
# the classroom's tests start a throw-away PostgreSQL cluster (initdb is not on PATH in Debian)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them (Debian 12 expected)."
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Open vSwitch: the userspace datapath needs only ovsdb-server and ovs-vswitchd running.
if ! ovs-vsctl --timeout=5 show >/dev/null 2>&1; then
    say "starting Open vSwitch"
    /usr/share/openvswitch/scripts/ovs-ctl start --no-monitor --system-id=random 2>&1 \
        | grep -v -i ulimit || true
    ovs-vsctl --timeout=10 show >/dev/null || die "Open vSwitch did not start (see /var/log/openvswitch/)."
fi

# The virtualenv, rebuilt when pyproject.toml or setup.py change.
STAMP=.venv/.sdnlab-installed
if [ ! -x .venv/bin/python ] || [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ setup.py -nt "$STAMP" ]; then
    say "creating .venv and installing sdnlab (editable, with test extras)"
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip setuptools wheel 2>&1 | grep -v '^WARNING: Location' || true
    # pip's notes about this machine's extra package folders, and setuptools' informational
    # note that an editable install of remapped folders uses an import hook, are dropped;
    # any other warning is shown
    .venv/bin/python -m pip install -q -e '.[test]' 2>&1 | grep -v -e '^WARNING: Location' \
        | sed '/BuildBackendWarning: Editable installation/,/with strategy, WheelFile/d' || true
    .venv/bin/python -c 'import sdnlab.cli, os_ken, mininet, scapy' || die "the project did not install into .venv"
    touch "$STAMP"
fi
# The classroom UI's terminal (xterm.js, MIT) from npm into a git-ignored static folder: the
# server serves it itself (no CDN: classrooms are often offline).
VENDOR=classroom/static/vendor
if [ ! -f "$VENDOR/xterm.js" ] || [ ! -f "$VENDOR/addon-fit.js" ]; then
    say "installing xterm.js for the classroom UI (npm)"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm install --silent --no-audit --no-fund @xterm/xterm@6 @xterm/addon-fit@0.11 >/dev/null) \
        || die "npm could not install @xterm/xterm (the classroom UI needs it)"
    mkdir -p "$VENDOR"
    cp "$tmp/node_modules/@xterm/xterm/lib/xterm.js" "$tmp/node_modules/@xterm/xterm/css/xterm.css" \
        "$tmp/node_modules/@xterm/addon-fit/lib/addon-fit.js" "$VENDOR/"
    cp "$tmp/node_modules/@xterm/xterm/LICENSE" "$VENDOR/LICENSE.xterm"
    rm -rf "$tmp"
fi
# The Firefox browser test drives Debian's firefox-esr over WebDriver BiDi with puppeteer-core
# (Playwright needs its own patched Firefox build): from npm into the git-ignored vendor/.
if [ ! -f vendor/node_modules/puppeteer-core/package.json ]; then
    say "installing puppeteer-core for the Firefox browser test (npm)"
    mkdir -p vendor
    [ -f vendor/package.json ] || echo '{"private": true}' > vendor/package.json
    (cd vendor && npm install --silent --no-audit --no-fund puppeteer-core@25 >/dev/null) \
        || die "npm could not install puppeteer-core (the Firefox browser test needs it)"
fi
say "ready: .venv/bin/sdnlab"
