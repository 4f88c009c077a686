#!/bin/bash
# Instructions per query of each case of benches/handler.rs, counted with
# callgrind as the difference between 400 and 200 queries, so building the
# store and starting the process cancel out. Deterministic, unlike time on a
# shared machine: use it to compare two builds (issue 10: "benches/handler
# within noise").
#
#   bash benches/handler_instructions.sh
#   BENCH=/path/to/other/handler-bench-binary bash benches/handler_instructions.sh
#
# Needs valgrind (Debian package `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
if [ -z "${BENCH:-}" ]; then
    BENCH=$(cargo bench --bench handler --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep '/handler-' | tail -1)
fi
count() {
    local out
    out=$(mktemp)
    # The last total is the bench process (criterion may start a child first).
    HANDLER_COUNT="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$out" "$BENCH" --bench 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | tail -1
    rm -f "$out"
}
printf '%-12s %12s\n' query instructions
for label in hit nxdomain cname_chain referral wildcard; do
    a=$(count "$label" 200)
    b=$(count "$label" 400)
    printf '%-12s %12d\n' "$label" "$(((b - a) / 200))"
done
