#!/usr/bin/env bash
# MailParser benchmark: builds intakectl in release, parses each class of messages in a loop
# (one core), then runs the Python `email` baseline on the same files and prints the ratios.
# Usage: bench/mailparser/run.sh [SECONDS_PER_CLASS=3]
# Environment: PACKAGE_PATH (default: the repository), INTAKECTL (skip the build), OUT.
set -euo pipefail
SECS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PKG="${PACKAGE_PATH:-$ROOT}"
OUT="${OUT:-$ROOT/bench/out/mailparser}"
mkdir -p "$OUT"

if [ -z "${INTAKECTL:-}" ]; then
    swift build -c release --product intakectl --package-path "$PKG" >&2
    INTAKECTL="$(swift build -c release --package-path "$PKG" --show-bin-path)/intakectl"
fi

python3 "$ROOT/bench/mailparser/make_inputs.py" "$OUT/inputs"
CLASSES=("$OUT/inputs/plain-5k.eml" "$OUT/inputs/base64-attachment.eml" "$OUT/inputs/html-newsletter.eml" "$OUT/inputs/forward-outlook.eml")
if [ -d "$ROOT/Tests/Fixtures/mail" ]; then
    shopt -s nullglob
    for d in "$ROOT"/Tests/Fixtures/mail/*/; do CLASSES+=("${d%/}"); done
fi

echo "== Python email (policy=default) vs intakectl bench-parse (Swift, release), one core each,"
echo "   interleaved per class, best of 3 rounds of ${SECS}s"
python3 "$ROOT/bench/mailparser/baseline.py" --seconds "$SECS" --rounds 3 --intakectl "$INTAKECTL" "${CLASSES[@]}" \
    | tee "$OUT/results.tsv" | column -t -s $'\t'

echo
echo "== Scaling on inputs that once made parsing quadratic (the tests only check they parse)"
python3 "$ROOT/bench/mailparser/scaling.py" "$INTAKECTL" "$OUT/scaling" 1 | column -t -s $'\t'
