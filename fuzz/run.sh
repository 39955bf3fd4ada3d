#!/usr/bin/env bash
# Builds the MailParser fuzz target with libFuzzer + AddressSanitizer and runs it for a bounded
# time. Usage: fuzz/run.sh [SECONDS=60]. FUZZ_OUT overrides the work folder (corpus, crashes).
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${FUZZ_OUT:-$ROOT/.build-fuzz}"
mkdir -p "$OUT/corpus" "$OUT/crashes"

swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name MailParserFuzz \
    "$ROOT"/Sources/MailParser/*.swift "$ROOT/fuzz/MailParserFuzz/main.swift" \
    -o "$OUT/mailparser-fuzz"

# Seed the corpus with the fixture messages (small ones only).
if [ -d "$ROOT/Tests/Fixtures/mail" ]; then
    find "$ROOT/Tests/Fixtures/mail" -name '*.eml' -size -64k -exec cp -n {} "$OUT/corpus/" \; 2>/dev/null || true
fi
if [ -z "$(ls -A "$OUT/corpus")" ]; then
    printf 'From: a@b.org\r\nSubject: hi\r\n\r\nbody\r\n' > "$OUT/corpus/seed.eml"
fi

"$OUT/mailparser-fuzz" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -dict="$ROOT/fuzz/mailparser.dict" -artifact_prefix="$OUT/crashes/" -print_final_stats=1 \
    "$OUT/corpus"
