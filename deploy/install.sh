#!/usr/bin/env bash
# Installs Intake on a Debian machine with systemd:
#   - builds the release binaries (swift build -c release) and installs them to $PREFIX/bin;
#   - creates the system user and group `intake` (no login, no home of its own);
#   - installs the unit to /etc/systemd/system/intaked.service and runs `systemctl daemon-reload`;
#   - installs /etc/intake/intake.yaml from deploy/intake.yaml.example when there is none
#     (an existing configuration is never overwritten; the current example is always put
#     beside it as /etc/intake/intake.yaml.example).
# It does not start the service: edit the configuration, then `systemctl enable --now intaked`.
# Running it again upgrades the binaries and the unit (then `systemctl restart intaked`).
#
# Usage: sudo deploy/install.sh [--bin-dir DIR] [--prefix DIR]
#   --bin-dir DIR  install the binaries already built in DIR instead of building
#   --prefix DIR   where binaries go (DIR/bin) and the README (DIR/share/doc/intake); default
#                  /usr/local. The unit runs /usr/local/bin/intaked: change it with a drop-in if
#                  you change this.
# Environment: DESTDIR=/some/dir stages every file under that folder instead of the live system,
#   and then skips creating the user, changing owners and talking to systemd (packaging, tests).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
bin_dir=
destdir=${DESTDIR:-}

while [ $# -gt 0 ]; do
    case $1 in
    --bin-dir) bin_dir=${2:?--bin-dir needs a folder}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

live() { [ -z "$destdir" ]; }
say() { printf 'install.sh: %s\n' "$*"; }

if live && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root (sudo $0), or stage with DESTDIR=…" >&2
    exit 77
fi

# 1. The binaries.
if [ -z "$bin_dir" ]; then
    command -v swift >/dev/null || { echo "install.sh: swift is not on PATH (Swift 6.3 is needed to build)" >&2; exit 69; }
    say "building the release binaries (a few minutes the first time)"
    (cd "$repo" && swift build -c release)
    bin_dir=$(cd "$repo" && swift build -c release --show-bin-path)
fi
[ -x "$bin_dir/intaked" ] || { echo "install.sh: no intaked in $bin_dir" >&2; exit 66; }
install -d -m 0755 "$destdir$prefix/bin"
for program in intaked intakectl; do
    if [ -x "$bin_dir/$program" ]; then
        install -m 0755 "$bin_dir/$program" "$destdir$prefix/bin/$program"
        say "installed $prefix/bin/$program"
    fi
done
install -d -m 0755 "$destdir$prefix/share/doc/intake"
install -m 0644 "$repo/README.md" "$destdir$prefix/share/doc/intake/README.md"

# 2. The system user (its home is the data folder, which systemd creates: StateDirectory=intake).
if live; then
    if ! getent group intake >/dev/null; then
        groupadd --system intake
        say "created the system group intake"
    fi
    if ! getent passwd intake >/dev/null; then
        useradd --system --gid intake --home-dir /var/lib/intake --no-create-home \
            --shell /usr/sbin/nologin --comment "Intake email dropbox daemon" intake
        say "created the system user intake"
    fi
fi

# 3. The configuration: root owns it, the daemon's group may read it (it may name TLS keys).
install -d -m 0750 "$destdir/etc/intake"
live && chown root:intake /etc/intake
install -m 0644 "$repo/deploy/intake.yaml.example" "$destdir/etc/intake/intake.yaml.example"
if [ -e "$destdir/etc/intake/intake.yaml" ]; then
    say "kept the existing /etc/intake/intake.yaml (the new example is /etc/intake/intake.yaml.example)"
else
    install -m 0640 "$repo/deploy/intake.yaml.example" "$destdir/etc/intake/intake.yaml"
    live && chown root:intake /etc/intake/intake.yaml
    say "installed /etc/intake/intake.yaml: set dropbox.domains and smtp.hostname before starting"
fi

# 4. The unit.
install -d -m 0755 "$destdir/etc/systemd/system"
install -m 0644 "$repo/systemd/intaked.service" "$destdir/etc/systemd/system/intaked.service"
say "installed /etc/systemd/system/intaked.service"
if live && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    say "systemd reloaded; next: edit /etc/intake/intake.yaml, then systemctl enable --now intaked"
    if systemctl is-active --quiet intaked; then
        say "intaked is running the old binary: systemctl restart intaked"
    fi
else
    say "systemd is not running here: skipped systemctl daemon-reload"
fi
