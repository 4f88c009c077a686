#!/usr/bin/env bash
# Syncs per update, counted with `strace -c` (issue 10: TCP updates of one
# wake-up share one commit). Starts the release binary under strace on a
# loopback port with one worker, then sends TSIG-signed updates three ways:
#
#   pipelined   one TCP connection, COUNT updates in one write
#               (tests/py/update_load.py pipeline), answered in order
#   nsupdate-v  one `nsupdate -v` session with COUNT `send`s (each its own
#               TCP exchange, one after another: nothing to share)
#   parallel    PARALLEL `nsupdate -v` sessions at once, COUNT/PARALLEL sends each
#
# and prints, per way, the fdatasync/fsync/msync calls strace counted and their
# ratio to the updates sent. Deterministic enough to compare builds:
#
#   bash benches/fsync_per_update.sh                       # ./target/release/dynzone
#   BIN=/path/to/older/dynzone bash benches/fsync_per_update.sh
#
# Needs strace, nsupdate (bind9-dnsutils), python3-dnspython. Only loopback
# traffic; every client is bounded by `timeout`; only PIDs started here are
# signalled; everything lives in a mktemp -d directory removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-200}
PARALLEL=${PARALLEL:-8}
for tool in strace nsupdate /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y strace bind9-dnsutils python3-dnspython)" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
    cargo build --release -q
    BIN=./target/release/dynzone
fi
work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$(pgrep -P "$pid")" "$pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
secret=$(head -c 32 /dev/urandom | base64)
port=$((20000 + RANDOM % 20000))
cat >"$work/zone" <<ZONE
\$ORIGIN example.test.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 300
@ 3600 IN NS ns1
ns1 3600 IN A 127.0.0.1
ZONE

run() { # way
    local way=$1 db="$work/db-$1" trace="$work/strace-$1"
    "$BIN" import --db "$db" --origin example.test "$work/zone" >/dev/null 2>&1
    strace -f -c -o "$trace" -e trace=fdatasync,fsync,msync \
        "$BIN" serve --db "$db" --listen "127.0.0.1:$port" --workers 1 \
        --tsig "hmac-sha256:bench:$secret" 2>"$work/log-$way" &
    pid=$!
    for _ in $(seq 100); do
        dig +tries=1 +time=1 @127.0.0.1 -p "$port" example.test SOA +short >/dev/null 2>&1 && break
        sleep 0.1
    done
    case $way in
    idle) COUNT=0 ;;
    pipelined)
        timeout 60 /usr/bin/python3 tests/py/update_load.py pipeline "$port" "hmac-sha256:bench:$secret" "$COUNT" >/dev/null
        ;;
    nsupdate-v)
        { echo "server 127.0.0.1 $port"; echo "zone example.test"
          for i in $(seq "$COUNT"); do echo "update add s$i.example.test 60 TXT \"$i\""; echo send; done
        } | timeout 120 nsupdate -v -y "hmac-sha256:bench:$secret"
        ;;
    parallel)
        local per=$((COUNT / PARALLEL)) j
        for j in $(seq "$PARALLEL"); do
            { echo "server 127.0.0.1 $port"; echo "zone example.test"
              for i in $(seq "$per"); do echo "update add p$j-$i.example.test 60 TXT \"$i\""; echo send; done
            } | timeout 120 nsupdate -v -y "hmac-sha256:bench:$secret" &
        done
        wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
        ;;
    esac
    # Stop the server itself (strace's child); strace then writes its table.
    kill -INT "$(pgrep -P "$pid")"; wait "$pid" 2>/dev/null || true; pid=
    local syncs
    syncs=$(awk '$NF ~ /^(fdatasync|fsync|msync)$/ { s += $4 } END { print s + 0 }' "$trace")
    printf '%-11s %6d updates %6d syncs %8s per update\n' "$way" "$COUNT" "$syncs" \
        "$(awk -v s="$syncs" -v n="$COUNT" 'BEGIN { if (n) printf "%.3f", s / n; else print "-" }')"
}

# A server that takes no update: the syncs of starting and stopping, which
# the lines below include.
COUNT_SAVED=$COUNT
WAYS=${WAYS:-idle pipelined nsupdate-v parallel}
for way in $WAYS; do
    COUNT=$COUNT_SAVED
    run "$way"
done
