#!/usr/bin/env bash
# Checks that deploy/intake.yaml.example mentions every configuration key the daemon reads (every
# settings.…("key") in Sources/IntakeServer/IntakeConfiguration.swift), set or commented out, so a
# new key cannot ship undocumented. Keys are compared as full dotted paths built from the YAML
# indentation; a commented-out key counts when "# " is written in front of where the key would be
# ("  # port: 9925" is metrics.port under "metrics:").
# Installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source_file=Sources/IntakeServer/IntakeConfiguration.swift
example=${1:-deploy/intake.yaml.example}

wanted=$(grep -oE 'settings\.[A-Za-z]+\("[a-z0-9_.]+"' "$source_file" | sed -E 's/.*\("//; s/"$//' | sort -u)
[ -n "$wanted" ] || { echo "check-config-example: found no keys in $source_file" >&2; exit 1; }

# Every key path in the example: "a:" at indent 0, "  b:" under it -> a.b.
present=$(awk '
    {
        line = $0
        if (match(line, /^ *# +[a-z_]+:/)) {
            # A commented-out key, written "# " in front of where the key would be.
            match(line, /^ *# +/); indent = RLENGTH - 2
            sub(/^ *# +/, "", line)
        } else if (match(line, /^ *[a-z_]+:/)) {
            match(line, /^ */); indent = RLENGTH
            sub(/^ */, "", line)
        } else next
        key = line; sub(/:.*/, "", key)
        while (depth > 0 && indents[depth] >= indent) depth--
        depth++; indents[depth] = indent; names[depth] = key
        path = names[1]; for (i = 2; i <= depth; i++) path = path "." names[i]
        print path
    }' "$example" | sort -u)

missing=0
for key in $wanted; do
    if ! printf '%s\n' "$present" | grep -qxF "$key"; then
        echo "check-config-example: $key is not in $example" >&2
        missing=1
    fi
done
[ "$missing" -eq 0 ] || exit 1
echo "check-config-example: ok: all $(printf '%s\n' "$wanted" | wc -l) keys are in $example"
