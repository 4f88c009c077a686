#!/bin/bash
# Instructions per Message::parse of each 64 KiB shape of benches/wire.rs
# (issue 9): deterministic, unlike time on a shared machine. Counted with
# callgrind as the difference between 4 and 2 parses, so building the shape
# and starting the process cancel out.
#
#   bash benches/parse_instructions.sh           # with the name memo
#   UNREMEMBERED=1 bash benches/parse_instructions.sh   # plain, for comparison
#   ITERATE=1 bash benches/parse_instructions.sh   # each parse, then one pass
#                                                  # of the section iterators
#
# Needs valgrind (Debian package `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
cargo bench --bench wire --no-run 2>/dev/null
bin=$(cargo bench --bench wire --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep '/wire-' | tail -1)
mode=${UNREMEMBERED:+:unremembered}
mode=${mode:-${ITERATE:+:iterate}}
count() {
    local out
    out=$(mktemp)
    WIRE_PARSE_COUNT="$1:$2$mode" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    rm -f "$out"
}
typical=
printf '%-14s %12s %8s\n' shape instructions "vs typical"
for shape in typical chain16 fresh_labels hidden_names empty_records rdata_names; do
    a=$(count "$shape" 2)
    b=$(count "$shape" 4)
    per=$(((b - a) / 2))
    typical=${typical:-$per}
    printf '%-14s %12d %8s\n' "$shape" "$per" "$(awk -v a="$per" -v b="$typical" 'BEGIN { printf "%.2f", a / b }')"
done
