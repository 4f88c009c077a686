#!/usr/bin/env bash
# AXFR throughput of the release binary on loopback: a zone of RECORDS
# (default 100,000) A records is imported into a scratch database, served with
# one worker, and transferred ROUNDS times (default 3) by kdig (package
# knot-dnsutils); prints the records, messages and seconds of each transfer
# and the records per second. The client's parsing is in the time, so this is
# a lower bound of what the server sends. Loopback only; the server is
# stopped by PID.
set -euo pipefail
RECORDS=${RECORDS:-100000}
ROUNDS=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/dynzone"
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
command -v kdig >/dev/null || { echo "kdig is missing: apt-get install knot-dnsutils" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$RECORDS" > "$dir/zone" <<'PY'
import sys
n = int(sys.argv[1])
print("$ORIGIN big.test.\n$TTL 300\n@ 3600 IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1")
for i in range(n):
    print(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
PY
limit=$((RECORDS + 10))
"$bin" import --db "$dir/db" --max-zone-records "$limit" --origin big.test "$dir/zone" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" --db "$dir/db" --workers 1 --max-zone-records "$limit" \
    --allow-transfer big.test:127.0.0.1 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do kdig @127.0.0.1 -p "$port" +tcp +short big.test SOA >/dev/null 2>&1 && break; sleep 0.1; done
for round in $(seq "$ROUNDS"); do
    start=$(date +%s.%N)
    summary=$(kdig @127.0.0.1 -p "$port" AXFR big.test | grep 'Received')
    end=$(date +%s.%N)
    python3 - "$round" "$start" "$end" "$summary" <<'PY'
import re, sys
round_, start, end, summary = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
m = re.search(r"\((\d+) messages, (\d+) records\)", summary)
messages, records = int(m.group(1)), int(m.group(2))
took = end - start
print(f"round {round_}: {records} records in {messages} messages, {took:.3f} s, {records / took:,.0f} records/s")
PY
done
