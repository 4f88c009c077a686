#!/usr/bin/env bash
# Side-by-side UDP query load: dynzone vs Knot DNS vs NSD, measured with dnsperf.
#
#   benches/dnsperf.sh                          # all three (default SERVERS)
#   SERVERS="knot nsd" DURATION=5 benches/dnsperf.sh
#
# Each server in turn (never two at once) loads the same generated zone bench.test.
# (~2,000 records, benches/dnsperf/gen.awk), listens on 127.0.0.1 on its own high
# port with ONE UDP worker, is checked for correct answers with dig, and then takes
# `dnsperf -c 1 -T 1` load for DURATION seconds. Only loopback traffic; every load run
# is bounded in time (-l, plus an outer `timeout`) and in count (-n passes over the
# query file). Everything lives in a mktemp -d directory removed on exit; only the
# PIDs this script started are ever signalled.
#
# Environment:
#   SERVERS      servers to run, in order          (default "dynzone knot nsd")
#   DURATION     seconds of load per server        (default 10)
#   MAX_QPS      dnsperf -Q rate cap               (default: none)
#   OUTSTANDING  dnsperf -q outstanding queries    (default 100)
#   MAX_RUNS     dnsperf -n passes over the file   (default 1000; bounds query count)
#   HOSTS        host names in the zone            (default 1750 -> 2,005 records)
#   QUERIES      lines in the query file           (default 5000)
#   SEED         generator seed                    (default 20240601)
#   BASE_PORT    dynzone BASE_PORT, knot +1, nsd +2 (default 15353)
#   PIN          1: server on CPU 0, dnsperf on CPU 1 (taskset)   (default 0)
#   NO_INSTALL   1: never run apt-get, fail if a tool is missing
#   NO_BUILD     1: skip `cargo build --release` (use the existing binary)
#   START_TIMEOUT seconds to wait for the first answer (default 30)
#   KEEP_TMP     1: keep the temp dir (configs, logs, dnsperf output) for a look
#
# Exits non-zero, with a message, when a tool is missing, the build fails, or a
# server does not start, answers wrongly, or fails under load.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
HERE=$ROOT/benches/dnsperf
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

SERVERS=${SERVERS:-dynzone knot nsd}
DURATION=${DURATION:-10}
MAX_QPS=${MAX_QPS:-}
OUTSTANDING=${OUTSTANDING:-100}
MAX_RUNS=${MAX_RUNS:-1000}
HOSTS=${HOSTS:-1750}
QUERIES=${QUERIES:-5000}
SEED=${SEED:-20240601}
BASE_PORT=${BASE_PORT:-15353}
PIN=${PIN:-0}
NO_INSTALL=${NO_INSTALL:-0}
NO_BUILD=${NO_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
START_TIMEOUT=${START_TIMEOUT:-30}
DYNZONE=$ROOT/target/release/dynzone

log() { printf '[dnsperf.sh] %s\n' "$*" >&2; }
die() { printf '[dnsperf.sh] ERROR: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in START_TIMEOUT DURATION OUTSTANDING MAX_RUNS HOSTS QUERIES SEED BASE_PORT; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[[ -z $MAX_QPS ]] || is_uint "$MAX_QPS" || die "MAX_QPS must be an integer, got '$MAX_QPS'"
((DURATION >= 1 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"
((BASE_PORT >= 1024 && BASE_PORT <= 65000)) || die "BASE_PORT must be 1024..65000"
for s in $SERVERS; do
    case $s in dynzone | knot | nsd) ;; *) die "unknown server '$s' in SERVERS (dynzone, knot, nsd)" ;; esac
done

# ---------------------------------------------------------------- cleanup state
TMP=""
POLICY_RC_CREATED=0
SUDO=()
cleanup() {
    local rc=$? f pid
    if [[ -n $TMP && -d $TMP ]]; then
        # Backstop: each per-server subshell stops its own server and deletes its
        # pid file; one left behind means the subshell itself was killed.
        for f in "$TMP"/*/server.pid; do
            [[ -f $f ]] || continue
            pid=$(<"$f")
            if [[ -n $pid ]] && ours "$pid"; then stop_tree "$pid"; fi
        done
    fi
    if ((POLICY_RC_CREATED)); then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d || true; fi
    if [[ -n $TMP && -d $TMP ]]; then
        if ((KEEP_TMP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- process helpers
# alive PID: running and not a zombie.
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n $st && $st != Z* ]]
}

# ours PID: a live server process of a kind this script starts (guards against a
# recycled PID before the cleanup backstop signals anything).
ours() {
    local comm
    comm=$(ps -o comm= -p "$1" 2>/dev/null) || return 1
    case $comm in knotd | nsd | dynzone) alive "$1" ;; *) return 1 ;; esac
}

# descendants PID: every descendant PID, one per line (NSD forks xfrd + servers).
descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}

# stop_tree PID: SIGTERM, wait up to 5 s, then SIGKILL; same for leftover children.
# Only ever called with PIDs this script started (and their descendants).
stop_tree() {
    local pid=$1 kids i p left
    kids=$(descendants "$pid" || true)
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "PID $pid ignored SIGTERM for 5 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    # Children normally follow their parent out (NSD's do); give them 2 s.
    for ((i = 0; i < 20; i++)); do
        left=0
        for p in $kids; do
            if alive "$p"; then left=1; fi
        done
        ((left)) || break
        sleep 0.1
    done
    for p in $kids; do
        if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
}

# rss_tree PID: resident set in KiB of PID plus its descendants (ps -o rss=).
rss_tree() {
    local total=0 p r
    for p in "$1" $(descendants "$1"); do
        r=$(ps -o rss= -p "$p" 2>/dev/null | tr -d ' ') || r=0
        total=$((total + ${r:-0}))
    done
    echo "$total"
}

# cpu_ticks PID: utime+stime clock ticks of PID plus its descendants.
cpu_ticks() {
    local total=0 p f
    for p in "$1" $(descendants "$1"); do
        [[ -r /proc/$p/stat ]] || continue
        # Fields after "(comm)": state is $1, utime $12, stime $13.
        f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || f=0
        total=$((total + ${f:-0}))
    done
    echo "$total"
}

# ------------------------------------------------------------------ 1. install
need_install() {
    local c
    for c in dnsperf knotd nsd dig ps awk timeout; do
        command -v "$c" >/dev/null 2>&1 || return 0
    done
    return 1
}

install_tools() {
    local pkgs=(dnsperf knot nsd procps bind9-dnsutils coreutils mawk)
    local before=() p
    ((NO_INSTALL)) && die "missing tools and NO_INSTALL=1; need: ${pkgs[*]}"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "missing tools and not root (no sudo); apt-get install ${pkgs[*]}"
        SUDO=(sudo)
    fi
    for p in knot nsd; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || before+=("$p")
    done
    # Keep the packages' postinst from starting their own knotd/nsd on port 53:
    # a policy-rc.d that denies every start, only if there is none already (an
    # existing one is left exactly as it is), removed again right after.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, benches/dnsperf.sh: no service starts during install\nexit 101\n' |
            "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        POLICY_RC_CREATED=1
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    fi
    log "installing ${pkgs[*]} with apt-get"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${pkgs[@]}" ||
        die "apt-get install ${pkgs[*]} failed"
    if ((POLICY_RC_CREATED)); then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
    # Packages installed by this run: leave their system services disabled.
    for p in "${before[@]}"; do
        if [[ -d /run/systemd/system ]]; then
            "${SUDO[@]}" systemctl disable --now "$p" >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/$p ]]; then
            "${SUDO[@]}" update-rc.d "$p" disable >/dev/null 2>&1 || true
        fi
    done
}

if need_install; then install_tools; fi
for c in dnsperf dig ps awk timeout; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found after install"
done
for s in $SERVERS; do
    case $s in
        knot) command -v knotd >/dev/null 2>&1 || die "knotd not found (apt-get install knot)" ;;
        nsd) command -v nsd >/dev/null 2>&1 || die "nsd not found (apt-get install nsd)" ;;
    esac
done
PIN_SRV=()
PIN_GEN=()
if ((PIN)); then
    command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (util-linux)"
    PIN_SRV=(taskset -c 0)
    PIN_GEN=(taskset -c 1)
fi

# -------------------------------------------------------------------- 2. build
if [[ " $SERVERS " == *" dynzone "* ]]; then
    if ((NO_BUILD)); then
        log "NO_BUILD=1: using existing $DYNZONE"
    else
        log "cargo build --release --bin dynzone"
        cargo build --release --bin dynzone || die "cargo build --release --bin dynzone failed"
    fi
    [[ -x $DYNZONE ]] || die "$DYNZONE not found"
fi

# ------------------------------------------------------- 3. zone + query file
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynzone-dnsperf.XXXXXX")
ZONEFILE=$TMP/bench.test.zone
QFILE=$TMP/queries.txt
awk -v hosts="$HOSTS" -v queries="$QUERIES" -v seed="$SEED" \
    -v zone="$ZONEFILE" -v qfile="$QFILE" -f "$HERE/gen.awk" || die "zone generator failed"

# Expected answers for the correctness check, taken from the zone file itself.
zone_rdata() { # OWNER TYPE -> first rdata of that RRset as written in the zone
    awk -v o="$1." -v t="$2" '$1 == o && $4 == t { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print; exit }' "$ZONEFILE"
}
CHECK_A_NAME=host0001.bench.test
CHECK_AAAA_NAME=host0005.bench.test
CHECK_TXT_NAME=host0008.bench.test
CHECK_A=$(zone_rdata "$CHECK_A_NAME" A)
CHECK_AAAA=$(zone_rdata "$CHECK_AAAA_NAME" AAAA)
CHECK_TXT=$(zone_rdata "$CHECK_TXT_NAME" TXT)
[[ -n $CHECK_A && -n $CHECK_AAAA && -n $CHECK_TXT ]] || die "generated zone lacks the check records (HOSTS too small?)"

# ------------------------------------------------------------------ 4. servers
port_of() {
    case $1 in dynzone) echo "$BASE_PORT" ;; knot) echo $((BASE_PORT + 1)) ;; nsd) echo $((BASE_PORT + 2)) ;; esac
}

dig_q() { # PORT NAME TYPE [dig options...]
    local port=$1 name=$2 type=$3
    shift 3
    dig @127.0.0.1 -p "$port" +norecurse +time=1 +tries=1 "$@" "$name" "$type"
}

render() { # TEMPLATE OUT DIR PORT
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@ZONEFILE@|$ZONEFILE|g" "$1" >"$2"
}

# Starts server $1 on port $2 in directory $3; sets SERVER_PID.
start_server() {
    local srv=$1 port=$2 dir=$3
    case $srv in
        dynzone)
            timeout --foreground 300 "$DYNZONE" import --db "$dir/db" "$ZONEFILE" >"$dir/import.log" 2>&1 ||
                { tail -n 20 "$dir/import.log" >&2; die "dynzone import failed (log above)"; }
            "${PIN_SRV[@]}" "$DYNZONE" serve --listen "127.0.0.1:$port" --db "$dir/db" --workers 1 \
                >"$dir/server.log" 2>&1 &
            ;;
        knot)
            render "$HERE/knot.conf.in" "$dir/knot.conf" "$dir" "$port"
            "${PIN_SRV[@]}" knotd -c "$dir/knot.conf" >"$dir/server.log" 2>&1 &
            ;;
        nsd)
            render "$HERE/nsd.conf.in" "$dir/nsd.conf" "$dir" "$port"
            nsd-checkconf "$dir/nsd.conf" >"$dir/checkconf.log" 2>&1 ||
                { cat "$dir/checkconf.log" >&2; die "nsd-checkconf rejected $dir/nsd.conf"; }
            "${PIN_SRV[@]}" nsd -d -c "$dir/nsd.conf" >"$dir/server.log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    echo "$SERVER_PID" >"$dir/server.pid"
}

server_log_tail() {
    local f
    for f in "$1"/server.log "$1"/nsd.log; do
        if [[ -s $f ]]; then { echo "--- $f" && tail -n 20 "$f"; } >&2; fi
    done
    return 0
}

# Correctness: exact rdata for an A, AAAA and TXT hit, NXDOMAIN, NODATA, AA bit.
check_answers() {
    local srv=$1 port=$2 got out
    got=$(dig_q "$port" "$CHECK_A_NAME" A +short) || true
    [[ $got == "$CHECK_A" ]] || die "$srv: $CHECK_A_NAME A answered '$got', zone has '$CHECK_A'"
    got=$(dig_q "$port" "$CHECK_AAAA_NAME" AAAA +short) || true
    [[ $got == "$CHECK_AAAA" ]] || die "$srv: $CHECK_AAAA_NAME AAAA answered '$got', zone has '$CHECK_AAAA'"
    got=$(dig_q "$port" "$CHECK_TXT_NAME" TXT +short) || true
    [[ $got == "$CHECK_TXT" ]] || die "$srv: $CHECK_TXT_NAME TXT answered '$got', zone has '$CHECK_TXT'"
    out=$(dig_q "$port" "$CHECK_A_NAME" A) || true
    [[ $out == *"status: NOERROR"* && $out =~ flags:\ [a-z\ ]*\ aa[\ \;] ]] ||
        die "$srv: $CHECK_A_NAME A is not an authoritative NOERROR answer:"$'\n'"$out"
    out=$(dig_q "$port" nosuchname.bench.test A) || true
    [[ $out == *"status: NXDOMAIN"* ]] || die "$srv: nosuchname.bench.test A is not NXDOMAIN:"$'\n'"$out"
    out=$(dig_q "$port" "$CHECK_A_NAME" TXT) || true
    [[ $out == *"status: NOERROR"* && $out == *"ANSWER: 0,"* ]] ||
        die "$srv: $CHECK_A_NAME TXT is not NODATA (NOERROR, no answer):"$'\n'"$out"
    log "$srv: answers match the zone (A, AAAA, TXT hits; NXDOMAIN; NODATA; AA set)"
}

# One server, start to stop; runs in a subshell. Writes $TMP/result.$srv.
# SERVER_PID and SERVER_DIR are globals (of the subshell) for its EXIT trap.
bench_one() {
    local srv=$1 port dir rss_idle rss_after t0 t1 cpu_s
    port=$(port_of "$srv")
    dir=$TMP/$srv
    mkdir -p "$dir"
    SERVER_PID=""
    SERVER_DIR=$dir
    # shellcheck disable=SC2317  # invoked through the trap
    on_exit() {
        local rc=$?
        if [[ -n $SERVER_PID ]]; then stop_tree "$SERVER_PID"; fi
        rm -f "$SERVER_DIR/server.pid"
        if ((!KEEP_TMP)); then rm -rf "$SERVER_DIR"; fi
        exit "$rc"
    }
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    if dig_q "$port" bench.test SOA >/dev/null 2>&1; then
        die "$srv: something already answers DNS on 127.0.0.1:$port; set BASE_PORT"
    fi
    log "$srv: starting on 127.0.0.1:$port"
    start_server "$srv" "$port" "$dir"

    local deadline=$((SECONDS + START_TIMEOUT)) up=0
    while ((SECONDS < deadline)); do
        alive "$SERVER_PID" || { server_log_tail "$dir"; die "$srv exited during start-up (log above)"; }
        # (dig +short prints its ";; connection timed out" to stdout: match the SOA)
        if [[ $(dig_q "$port" bench.test SOA +short 2>/dev/null) == "ns1.bench.test. hostmaster.bench.test. "* ]]; then
            up=1
            break
        fi
        sleep 0.1
    done
    ((up)) || { server_log_tail "$dir"; die "$srv did not answer bench.test SOA on 127.0.0.1:$port within ${START_TIMEOUT}s"; }
    alive "$SERVER_PID" || { server_log_tail "$dir"; die "$srv exited after start-up"; }
    check_answers "$srv" "$port"
    rss_idle=$(rss_tree "$SERVER_PID")

    local args=(-s 127.0.0.1 -p "$port" -d "$QFILE" -l "$DURATION" -n "$MAX_RUNS"
        -c 1 -T 1 -q "$OUTSTANDING" -t 2)
    if [[ -n $MAX_QPS ]]; then args+=(-Q "$MAX_QPS"); fi
    log "$srv: dnsperf ${args[*]}"
    t0=$(cpu_ticks "$SERVER_PID")
    timeout --foreground --kill-after=5 $((DURATION + 30)) "${PIN_GEN[@]}" dnsperf "${args[@]}" \
        >"$dir/dnsperf.out" 2>&1 || { cat "$dir/dnsperf.out" >&2; die "$srv: dnsperf failed"; }
    t1=$(cpu_ticks "$SERVER_PID")
    # dnsperf ends cleanly on Ctrl-C, so bash never sees the SIGINT: look for it.
    if grep -q 'Testing complete (interruption)' "$dir/dnsperf.out"; then
        log "$srv: interrupted"
        exit 130
    fi
    alive "$SERVER_PID" || { server_log_tail "$dir"; die "$srv died under load"; }
    rss_after=$(rss_tree "$SERVER_PID")
    cpu_s=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz }')

    local qps lat sent completed lost rcodes
    qps=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$dir/dnsperf.out")
    lat=$(awk '/Average Latency \(s\):/ { printf "%.3f", $4 * 1000 }' "$dir/dnsperf.out")
    sent=$(awk '/Queries sent:/ { print $3 }' "$dir/dnsperf.out")
    completed=$(awk '/Queries completed:/ { print $3 }' "$dir/dnsperf.out")
    lost=$(awk '/Queries lost:/ { print $3 }' "$dir/dnsperf.out")
    rcodes=$(sed -n 's/^ *Response codes: *//p' "$dir/dnsperf.out")
    [[ -n $qps && -n $lat && -n $completed && -n $lost ]] ||
        { cat "$dir/dnsperf.out" >&2; die "$srv: could not parse dnsperf output (above)"; }
    ((completed > 0)) || die "$srv: no query completed under load"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$qps" "$lat" "$lost" "$completed" \
        "$sent" "$rss_idle" "$rss_after" "$cpu_s" "$rcodes" >"$TMP/result.$srv"
    log "$srv: $qps qps, ${lat} ms avg, lost $lost of $sent; server CPU ${cpu_s} s; $rcodes"

    stop_tree "$SERVER_PID"
    SERVER_PID=""
    rm -f "$dir/server.pid"
}

FAILED=()
for srv in $SERVERS; do
    set +e
    (
        set -e
        bench_one "$srv"
    )
    rc=$?
    set -e
    if ((rc == 130 || rc == 143)); then exit "$rc"; fi
    if ((rc != 0)); then FAILED+=("$srv"); fi
done

# -------------------------------------------------------------------- 5. table
qps_of() { if [[ -f $TMP/result.$1 ]]; then cut -f2 "$TMP/result.$1"; fi; }
ratio() {
    local a b
    a=$(qps_of "$1")
    b=$(qps_of "$2")
    if [[ -n $a && -n $b ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
    else
        echo "n/a"
    fi
}

echo
echo "dnsperf ${DURATION}s per server, UDP, -c 1 -T 1 -q $OUTSTANDING${MAX_QPS:+ -Q $MAX_QPS}, one server worker;"
echo "zone bench.test. $(wc -l <"$ZONEFILE") records, $(wc -l <"$QFILE") queries (80% hit, 10% NXDOMAIN, 10% NODATA)"
printf '%-8s | %10s | %16s | %13s | %14s | %15s | %12s\n' \
    server qps "avg latency (ms)" "lost" "RSS idle (KiB)" "RSS after (KiB)" "srv CPU (s)"
printf '%s\n' "---------+------------+------------------+---------------+----------------+-----------------+-------------"
for srv in $SERVERS; do
    if [[ -f $TMP/result.$srv ]]; then
        IFS=$'\t' read -r _ qps lat lost completed sent rss_i rss_a cpu _ <"$TMP/result.$srv"
        printf '%-8s | %10s | %16s | %13s | %14s | %15s | %12s\n' \
            "$srv" "$qps" "$lat" "$lost/$sent" "$rss_i" "$rss_a" "$cpu"
    else
        printf '%-8s | %10s |\n' "$srv" FAILED
    fi
done
echo
echo "ratio dynzone/knot: $(ratio dynzone knot) (qps)"
echo "ratio dynzone/nsd: $(ratio dynzone nsd) (qps)"
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: *//') ($(nproc) cores online)"
if ((PIN)); then
    echo "note: server pinned to CPU 0, dnsperf to CPU 1 (PIN=1); other tenants may still share them."
else
    echo "note: dnsperf runs on the same $(nproc) cores as the server (and anything else on the machine); numbers are relative, not absolute."
fi
echo "note: RSS sums the server's process tree (NSD: main + xfrd + 1 server child, shared pages counted per process)."
echo "      srv CPU = user+system seconds the server spent during the ${DURATION}s load."

if ((${#FAILED[@]})); then
    die "failed: ${FAILED[*]} (see messages above)"
fi
