#!/usr/bin/env bash
# Removes what deploy/install.sh installed: stops and disables intaked, removes the unit, the
# binaries and the README. Keeps the data (/var/lib/intake), the configuration (/etc/intake) and
# the user `intake`, so a later install picks up where this one left off.
#
# Usage: sudo deploy/uninstall.sh [--purge] [--prefix DIR]
#   --purge       also delete /var/lib/intake (every kept message and the database),
#                 /etc/intake, /run/intake and the user and group intake. There is no undo.
#   --prefix DIR  where install.sh put the binaries (default /usr/local)
# Environment: DESTDIR as for install.sh (no user, no systemd).
set -euo pipefail

prefix=/usr/local
purge=0
destdir=${DESTDIR:-}

while [ $# -gt 0 ]; do
    case $1 in
    --purge) purge=1; shift ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

live() { [ -z "$destdir" ]; }
say() { printf 'uninstall.sh: %s\n' "$*"; }

if live && [ "$(id -u)" -ne 0 ]; then
    echo "uninstall.sh: run it as root (sudo $0), or with DESTDIR=…" >&2
    exit 77
fi

if live && [ -d /run/systemd/system ]; then
    if systemctl list-unit-files intaked.service >/dev/null 2>&1; then
        systemctl disable --now intaked.service || true
        say "stopped and disabled intaked"
    fi
fi

rm -f "$destdir/etc/systemd/system/intaked.service"
rm -rf "$destdir/etc/systemd/system/intaked.service.d"
if live && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl reset-failed intaked.service 2>/dev/null || true
fi
rm -f "$destdir$prefix/bin/intaked" "$destdir$prefix/bin/intakectl"
rm -rf "$destdir$prefix/share/doc/intake"
say "removed the unit and the binaries"

if [ "$purge" -eq 1 ]; then
    rm -rf "$destdir/var/lib/intake" "$destdir/etc/intake" "$destdir/run/intake"
    # StateDirectory= may have been moved under /var/lib/private by DynamicUser= in a drop-in.
    rm -rf "$destdir/var/lib/private/intake"
    if live && getent passwd intake >/dev/null; then userdel intake; fi
    if live && getent group intake >/dev/null; then groupdel intake; fi
    say "purged the data, the configuration and the user intake"
else
    say "kept the data in /var/lib/intake, the configuration in /etc/intake and the user intake (--purge deletes them)"
fi
