#!/usr/bin/env bash
# Side-by-side load on loopback, measured with dnsperf, in two modes:
#
#   query  (default) UDP queries: dynzone vs Knot DNS vs NSD (BIND on request)
#   update           TSIG-signed (hmac-sha256) RFC 2136 updates, `dnsperf -u -y`:
#                    dynzone vs Knot DNS vs BIND 9, each with full durability
#   both             the query run, then the update run; both tables
#
#   benches/dnsperf.sh                                   # query mode, dynzone knot nsd
#   SERVERS="knot nsd" DURATION=5 benches/dnsperf.sh
#   MODE=update benches/dnsperf.sh                       # update mode, dynzone knot bind
#   MODE=update SERVERS="knot bind" DURATION=5 benches/dnsperf.sh
#   MODE=both benches/dnsperf.sh
#
# Each server in turn (never two at once) loads the same generated zone bench.test.
# (~2,000 records, benches/dnsperf/gen.awk), listens on 127.0.0.1 on its own high
# port with ONE worker, is checked for correct answers with dig, and then takes
# dnsperf load for DURATION seconds. Only loopback traffic; every load run is bounded
# in time (-l, plus an outer `timeout`) and in count (-n passes over the input file).
# Everything lives in a mktemp -d directory removed on exit; only the PIDs this
# script started are ever signalled.
#
# Query mode: `dnsperf -c 1 -T 1 -q OUTSTANDING` over a query file (80% hits, 10%
# NXDOMAIN, 10% NODATA). Table: qps, latency, loss, RSS, server CPU.
#
# Update mode: `dnsperf -u -y hmac-sha256:KEY:SECRET -c UPD_CLIENTS -T 1 -q
# UPD_OUTSTANDING` over benches/dnsperf/genupd.awk's file: every update message adds
# a fresh name (A + TXT) and deletes the name added UPD_WINDOW updates earlier, so
# the zone stays bounded however long the run. Each server accepts updates only
# with the TSIG key, and stores each accepted update durably before it answers:
#   dynzone  LMDB, synced to disk on every commit (updates that arrive together share
#            one commit), `serve --workers 1 --tsig hmac-sha256:KEY:SECRET`
#   knot     knot-update.conf.in: journal-content: changes, zonefile-sync: -1,
#            journal-db-mode: robust (the default: the LMDB journal is synced on each
#            commit); 1 UDP worker, 1 background worker
#   bind     named.conf.in: BIND's default journal (.jnl, synced per update),
#            allow-update { key KEY; }; `named -g -n 1`
# Before the load: an unsigned update must be refused, a signed one must be accepted
# (nsupdate checks the signature on the answer), visible with dig, and removable.
# After it: dnsperf's response codes must be at least MIN_NOERROR_PCT % NOERROR (a
# run of REFUSED/NOTAUTH answers measures nothing and fails the script), the SOA
# serial must have moved, and (DURABILITY_CHECK=1) one more signed update is made,
# the server is killed with SIGKILL, restarted on the same data, and must still
# have it. Table: updates/s (dnsperf's "Queries per second"), latency, loss,
# NOERROR vs other rcodes, serial increase, server CPU; ratios dynzone/knot and
# dynzone/bind. NSD has no dynamic update: not allowed in update mode (skipped with
# a note under MODE=both). Knot answers updates in batches with a roughly constant
# latency (~20 ms on the machine this was written on, at low CPU), so its rate
# scales with the updates in flight: the dynzone/knot ratio depends on
# UPD_OUTSTANDING, and the table says so.
#
# Environment:
#   MODE         query | update | both                 (default query)
#   SERVERS      servers to run, in order: dynzone knot nsd bind
#                (default "dynzone knot nsd" in query mode, "dynzone knot bind" in
#                update mode; under MODE=both, SERVERS applies to both runs)
#   DURATION     seconds of load per server and mode   (default 10)
#   MAX_QPS      dnsperf -Q rate cap, both modes       (default: none)
#   OUTSTANDING  query mode: dnsperf -q outstanding queries (default 100)
#   MAX_RUNS     dnsperf -n passes over the input file (default 1000; bounds the count)
#   HOSTS        host names in the zone                (default 1750 -> 2,005 records)
#   QUERIES      lines in the query file               (default 5000)
#   SEED         generator seed                        (default 20240601)
#   UPDATES      update messages in the update file    (default 10000)
#   UPD_WINDOW   names alive at once (delete lag)      (default 1000; > UPD_OUTSTANDING)
#   UPD_OUTSTANDING  update mode: dnsperf -q           (default 64)
#   UPD_CLIENTS  update mode: dnsperf -c (source ports) (default 4)
#   UPD_TIMEOUT  update mode: dnsperf -t seconds       (default 5)
#   TSIG_NAME    TSIG key name                         (default bench-key)
#   TSIG_SECRET  base64 hmac-sha256 secret             (default: 32 random bytes per run)
#   MIN_NOERROR_PCT  update mode: least share of NOERROR answers (default 99)
#   DURABILITY_CHECK 1: SIGKILL + restart check after the update load (default 1)
#   BASE_PORT    dynzone BASE_PORT, knot +1, nsd +2, bind +3 (default 15353)
#   PIN          1: server on CPU 0, dnsperf on CPU 1 (taskset)   (default 0)
#   NO_INSTALL   1: never run apt-get, fail if a tool is missing
#   NO_BUILD     1: skip `cargo build --release` (use the existing binary)
#   START_TIMEOUT seconds to wait for the first answer (default 30)
#   KEEP_TMP     1: keep the temp dir (configs, logs, dnsperf output) for a look
#
# Missing tools are installed with apt-get (dnsperf, knot, nsd, bind9, bind9-dnsutils
# for dig/nsupdate), only those the selected servers and modes need; while apt-get
# runs, a policy-rc.d that forbids service starts is put in place only if none
# exists (and removed again), and the system services of packages this run
# installed are disabled afterwards. Services that were already running are never
# touched: the script's own instances use the high ports above.
#
# Exits non-zero, with a message, when a tool is missing, the build fails, or a
# server does not start, answers wrongly, or fails under load; the servers that did
# work are still measured and tabulated first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
HERE=$ROOT/benches/dnsperf
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

MODE=${MODE:-query}
SERVERS=${SERVERS:-}
DURATION=${DURATION:-10}
MAX_QPS=${MAX_QPS:-}
OUTSTANDING=${OUTSTANDING:-100}
MAX_RUNS=${MAX_RUNS:-1000}
HOSTS=${HOSTS:-1750}
QUERIES=${QUERIES:-5000}
SEED=${SEED:-20240601}
UPDATES=${UPDATES:-10000}
UPD_WINDOW=${UPD_WINDOW:-1000}
UPD_OUTSTANDING=${UPD_OUTSTANDING:-64}
UPD_CLIENTS=${UPD_CLIENTS:-4}
UPD_TIMEOUT=${UPD_TIMEOUT:-5}
TSIG_NAME=${TSIG_NAME:-bench-key}
TSIG_SECRET=${TSIG_SECRET:-}
MIN_NOERROR_PCT=${MIN_NOERROR_PCT:-99}
DURABILITY_CHECK=${DURABILITY_CHECK:-1}
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
for v in START_TIMEOUT DURATION OUTSTANDING MAX_RUNS HOSTS QUERIES SEED BASE_PORT UPDATES \
    UPD_WINDOW UPD_OUTSTANDING UPD_CLIENTS UPD_TIMEOUT MIN_NOERROR_PCT DURABILITY_CHECK; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[[ -z $MAX_QPS ]] || is_uint "$MAX_QPS" || die "MAX_QPS must be an integer, got '$MAX_QPS'"
((DURATION >= 1 && DURATION <= 600)) || die "DURATION must be 1..600 seconds"
((BASE_PORT >= 1024 && BASE_PORT <= 65000)) || die "BASE_PORT must be 1024..65000"
((UPD_OUTSTANDING >= 1 && UPD_CLIENTS >= 1 && UPD_TIMEOUT >= 1)) ||
    die "UPD_OUTSTANDING, UPD_CLIENTS and UPD_TIMEOUT must be at least 1"
((UPD_WINDOW > UPD_OUTSTANDING && UPD_WINDOW < UPDATES && UPDATES <= 99999)) ||
    die "need UPD_OUTSTANDING < UPD_WINDOW < UPDATES <= 99999"
((MIN_NOERROR_PCT <= 100)) || die "MIN_NOERROR_PCT must be 0..100"
[[ $TSIG_NAME =~ ^[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)*$ ]] ||
    die "TSIG_NAME must be a plain host-style name, got '$TSIG_NAME'"
[[ -z $TSIG_SECRET || $TSIG_SECRET =~ ^[A-Za-z0-9+/]+=*$ ]] ||
    die "TSIG_SECRET must be base64, got '$TSIG_SECRET'"

case $MODE in
    query) MODES=(query) ;;
    update) MODES=(update) ;;
    both) MODES=(query update) ;;
    *) die "MODE must be query, update or both, got '$MODE'" ;;
esac
# Servers per mode. NSD has no dynamic update (RFC 2136) at all.
QUERY_SERVERS=${SERVERS:-dynzone knot nsd}
UPDATE_SERVERS=${SERVERS:-dynzone knot bind}
for s in $QUERY_SERVERS $UPDATE_SERVERS; do
    case $s in dynzone | knot | nsd | bind) ;; *) die "unknown server '$s' in SERVERS (dynzone, knot, nsd, bind)" ;; esac
done
if [[ " $UPDATE_SERVERS " == *" nsd "* ]]; then
    if [[ $MODE == update ]]; then
        die "NSD does not take dynamic updates: drop nsd from SERVERS for MODE=update"
    fi
    UPDATE_SERVERS=$(echo " $UPDATE_SERVERS " | sed 's/ nsd / /g')
    if [[ $MODE == both ]]; then log "NSD does not take dynamic updates: the update run leaves it out"; fi
fi
ALL_SERVERS=""
for m in "${MODES[@]}"; do
    if [[ $m == query ]]; then ALL_SERVERS+=" $QUERY_SERVERS"; else ALL_SERVERS+=" $UPDATE_SERVERS"; fi
done
has_server() { [[ " $ALL_SERVERS " == *" $1 "* ]]; }
has_mode() { [[ " ${MODES[*]} " == *" $1 "* ]]; }
if [[ -z $TSIG_SECRET ]]; then
    TSIG_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
fi
TSIG="hmac-sha256:$TSIG_NAME:$TSIG_SECRET"

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
    case $comm in knotd | nsd | named | dynzone) alive "$1" ;; *) return 1 ;; esac
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
# Commands and Debian packages the selected servers and modes need.
NEED_CMDS=(dnsperf dig ps awk timeout)
PKGS=(dnsperf procps bind9-dnsutils coreutils mawk)
SERVICE_PKGS=()
if has_server knot; then NEED_CMDS+=(knotd); PKGS+=(knot); SERVICE_PKGS+=(knot); fi
if has_server nsd; then NEED_CMDS+=(nsd nsd-checkconf); PKGS+=(nsd); SERVICE_PKGS+=(nsd); fi
if has_server bind; then NEED_CMDS+=(named named-checkconf); PKGS+=(bind9); SERVICE_PKGS+=(bind9); fi
if has_mode update; then NEED_CMDS+=(nsupdate base64 head); fi

need_install() {
    local c
    for c in "${NEED_CMDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || return 0
    done
    return 1
}

# service_names PACKAGE: the init/systemd service names the package ships.
service_names() {
    case $1 in bind9) echo "named bind9" ;; *) echo "$1" ;; esac
}

install_tools() {
    local before=() p svc
    ((NO_INSTALL)) && die "missing tools and NO_INSTALL=1; need: ${PKGS[*]}"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "missing tools and not root (no sudo); apt-get install ${PKGS[*]}"
        SUDO=(sudo)
    fi
    for p in "${SERVICE_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || before+=("$p")
    done
    # Keep the packages' postinst from starting their own knotd/nsd/named on port 53:
    # a policy-rc.d that denies every start, only if there is none already (an
    # existing one is left exactly as it is), removed again right after.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, benches/dnsperf.sh: no service starts during install\nexit 101\n' |
            "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        POLICY_RC_CREATED=1
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    fi
    log "installing ${PKGS[*]} with apt-get"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${PKGS[@]}" ||
        die "apt-get install ${PKGS[*]} failed"
    if ((POLICY_RC_CREATED)); then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
    # Packages installed by this run: leave their system services disabled (not
    # stopped: the policy-rc.d kept them from starting in the first place).
    for p in "${before[@]}"; do
        for svc in $(service_names "$p"); do
            if [[ -d /run/systemd/system ]]; then
                "${SUDO[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
            fi
            if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/$svc ]]; then
                "${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
            fi
        done
    done
}

if need_install; then install_tools; fi
for c in "${NEED_CMDS[@]}"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found after install (apt-get install ${PKGS[*]})"
done
PIN_SRV=()
PIN_GEN=()
if ((PIN)); then
    command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset (util-linux)"
    PIN_SRV=(taskset -c 0)
    PIN_GEN=(taskset -c 1)
fi

# -------------------------------------------------------------------- 2. build
# A dynzone that cannot run (build failure, missing binary) fails only its own
# runs: the other servers are still measured, and the script exits non-zero at the end.
DYNZONE_BROKEN=""
if has_server dynzone; then
    if ((NO_BUILD)); then
        log "NO_BUILD=1: using existing $DYNZONE"
    else
        log "cargo build --release --bin dynzone"
        if ! cargo build --release --bin dynzone; then
            DYNZONE_BROKEN="cargo build --release --bin dynzone failed (output above)"
            log "ERROR: $DYNZONE_BROKEN; going on with the other servers"
        fi
    fi
    if [[ -z $DYNZONE_BROKEN && ! -x $DYNZONE ]]; then DYNZONE_BROKEN="$DYNZONE not found"; fi
fi

# ------------------------------------------------------- 3. zone + input files
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynzone-dnsperf.XXXXXX")
ZONEFILE=$TMP/bench.test.zone
QFILE=$TMP/queries.txt
UFILE=$TMP/updates.txt
awk -v hosts="$HOSTS" -v queries="$QUERIES" -v seed="$SEED" \
    -v zone="$ZONEFILE" -v qfile="$QFILE" -f "$HERE/gen.awk" || die "zone generator failed"
if has_mode update; then
    awk -v updates="$UPDATES" -v window="$UPD_WINDOW" -v origin=bench.test -v out="$UFILE" \
        -f "$HERE/genupd.awk" || die "update file generator failed"
fi

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
    case $1 in
        dynzone) echo "$BASE_PORT" ;;
        knot) echo $((BASE_PORT + 1)) ;;
        nsd) echo $((BASE_PORT + 2)) ;;
        bind) echo $((BASE_PORT + 3)) ;;
    esac
}

dig_q() { # PORT NAME TYPE [dig options...]
    local port=$1 name=$2 type=$3
    shift 3
    dig @127.0.0.1 -p "$port" +norecurse +time=1 +tries=1 "$@" "$name" "$type"
}

soa_serial() { # PORT -> the SOA serial of bench.test, or nothing
    dig_q "$1" bench.test SOA +short 2>/dev/null | awk 'NF == 7 && $3 ~ /^[0-9]+$/ { print $3 }'
}

# nsupd PORT SIGNED LINE...: one update of zone bench.test. with nsupdate, signed
# with the benchmark's key when SIGNED is 1 (nsupdate then also checks the TSIG of
# the answer). Prints nsupdate's output; fails when the update is not accepted.
nsupd() {
    local port=$1 signed=$2 args=(-t 4 -u 2 -r 1)
    shift 2
    if ((signed)); then args+=(-y "$TSIG"); fi
    { printf 'server 127.0.0.1 %s\nzone bench.test.\n' "$port" && printf '%s\n' "$@" && printf 'send\n'; } |
        timeout 20 nsupdate "${args[@]}" 2>&1
}

render() { # TEMPLATE OUT DIR PORT
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@ZONEFILE@|$ZONEFILE|g" \
        -e "s|@KEYNAME@|$TSIG_NAME|g" -e "s|@SECRET@|$TSIG_SECRET|g" "$1" >"$2"
}

# start_server SRV PORT DIR MODE FRESH: starts the server; sets SERVER_PID. FRESH=0
# restarts on the data a previous start left in DIR (no import, no zone copy).
start_server() {
    local srv=$1 port=$2 dir=$3 mode=$4 fresh=$5 extra=()
    case $srv in
        dynzone)
            if ((fresh)); then
                timeout --foreground 300 "$DYNZONE" import --db "$dir/db" "$ZONEFILE" >"$dir/import.log" 2>&1 ||
                    { tail -n 20 "$dir/import.log" >&2; die "dynzone import failed (log above)"; }
            fi
            if [[ $mode == update ]]; then extra=(--tsig "$TSIG"); fi
            "${PIN_SRV[@]}" "$DYNZONE" serve --listen "127.0.0.1:$port" --db "$dir/db" --workers 1 \
                "${extra[@]}" >>"$dir/server.log" 2>&1 &
            ;;
        knot)
            if [[ $mode == update ]]; then
                render "$HERE/knot-update.conf.in" "$dir/knot.conf" "$dir" "$port"
            else
                render "$HERE/knot.conf.in" "$dir/knot.conf" "$dir" "$port"
            fi
            "${PIN_SRV[@]}" knotd -c "$dir/knot.conf" >>"$dir/server.log" 2>&1 &
            ;;
        nsd)
            render "$HERE/nsd.conf.in" "$dir/nsd.conf" "$dir" "$port"
            nsd-checkconf "$dir/nsd.conf" >"$dir/checkconf.log" 2>&1 ||
                { cat "$dir/checkconf.log" >&2; die "nsd-checkconf rejected $dir/nsd.conf"; }
            "${PIN_SRV[@]}" nsd -d -c "$dir/nsd.conf" >>"$dir/server.log" 2>&1 &
            ;;
        bind)
            # named writes the zone file back (and its journal next to it): own copy.
            if ((fresh)); then cp "$ZONEFILE" "$dir/bench.test.zone"; fi
            render "$HERE/named.conf.in" "$dir/named.conf" "$dir" "$port"
            named-checkconf "$dir/named.conf" >"$dir/checkconf.log" 2>&1 ||
                { cat "$dir/checkconf.log" >&2; die "named-checkconf rejected $dir/named.conf"; }
            # -g: foreground, log to stderr; -n 1: one worker thread.
            "${PIN_SRV[@]}" named -g -n 1 -c "$dir/named.conf" >>"$dir/server.log" 2>&1 &
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

# wait_up SRV PORT DIR: until the server answers the bench.test SOA.
wait_up() {
    local srv=$1 port=$2 dir=$3 deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        alive "$SERVER_PID" || { server_log_tail "$dir"; die "$srv exited during start-up (log above)"; }
        # (dig +short prints its ";; connection timed out" to stdout: match the SOA)
        if [[ $(dig_q "$port" bench.test SOA +short 2>/dev/null) == "ns1.bench.test. hostmaster.bench.test. "* ]]; then
            alive "$SERVER_PID" || { server_log_tail "$dir"; die "$srv exited after start-up"; }
            return 0
        fi
        sleep 0.1
    done
    server_log_tail "$dir"
    die "$srv did not answer bench.test SOA on 127.0.0.1:$port within ${START_TIMEOUT}s"
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

# Update path: unsigned refused, signed accepted (and its answer's TSIG verified by
# nsupdate), the change visible, a signed delete effective.
check_update() {
    local srv=$1 port=$2 got out
    if out=$(nsupd "$port" 0 "update add chk-unsigned.bench.test. 300 A 192.0.2.50"); then
        die "$srv: an UNSIGNED update was accepted; the benchmark needs TSIG-only updates:"$'\n'"$out"
    fi
    [[ $out == *REFUSED* || $out == *NOTAUTH* ]] ||
        die "$srv: unsigned update: expected REFUSED or NOTAUTH, nsupdate said:"$'\n'"$out"
    got=$(dig_q "$port" chk-unsigned.bench.test A +short) || true
    [[ -z $got ]] || die "$srv: the refused unsigned update is visible anyway: '$got'"
    out=$(nsupd "$port" 1 "update add chk-signed.bench.test. 300 A 192.0.2.51" \
        'update add chk-signed.bench.test. 300 TXT "signed check"') ||
        die "$srv: a signed update (key $TSIG_NAME, hmac-sha256) failed:"$'\n'"$out"
    got=$(dig_q "$port" chk-signed.bench.test A +short) || true
    [[ $got == 192.0.2.51 ]] || die "$srv: after a signed add, chk-signed.bench.test A answered '$got'"
    got=$(dig_q "$port" chk-signed.bench.test TXT +short) || true
    [[ $got == '"signed check"' ]] || die "$srv: after a signed add, chk-signed.bench.test TXT answered '$got'"
    out=$(nsupd "$port" 1 "update delete chk-signed.bench.test.") ||
        die "$srv: a signed delete failed:"$'\n'"$out"
    out=$(dig_q "$port" chk-signed.bench.test A) || true
    [[ $out == *"status: NXDOMAIN"* ]] || die "$srv: after a signed delete, chk-signed.bench.test A is not NXDOMAIN:"$'\n'"$out"
    log "$srv: unsigned update refused; signed add visible, signed delete effective (answer TSIG checked by nsupdate)"
}

# kill_hard PID: SIGKILL the server and whatever it forked; wait for it.
kill_hard() {
    local kids p
    kids=$(descendants "$1" || true)
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in $kids; do
        if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
}

# dnsperf_field FILE LABEL N: the Nth word after "Queries LABEL" or "Updates LABEL"
# in dnsperf's summary.
dnsperf_field() {
    awk -v l="$2" -v n="$3" '($1 == "Queries" || $1 == "Updates") && $2 == l {
        split($0, w, ": *"); split(w[2], v, " "); print v[n]; exit }' "$1"
}

# One server and mode, start to stop; runs in a subshell. Writes $TMP/result.MODE.SRV.
# SERVER_PID and SERVER_DIR are globals (of the subshell) for its EXIT trap.
bench_one() {
    local srv=$1 mode=$2 port dir rss_idle rss_after t0 t1 cpu_s
    port=$(port_of "$srv")
    dir=$TMP/$mode-$srv
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

    if [[ $srv == dynzone ]]; then
        [[ -z $DYNZONE_BROKEN ]] || die "dynzone: $DYNZONE_BROKEN"
        if [[ $mode == update ]] && ! "$DYNZONE" serve --help 2>&1 | grep -q -- '--tsig'; then
            die "dynzone: this build has no 'serve --tsig' option, so it cannot take signed updates; no dynzone update numbers"
        fi
    fi
    if dig_q "$port" bench.test SOA >/dev/null 2>&1; then
        die "$srv: something already answers DNS on 127.0.0.1:$port; set BASE_PORT"
    fi
    log "$srv ($mode mode): starting on 127.0.0.1:$port"
    start_server "$srv" "$port" "$dir" "$mode" 1
    wait_up "$srv" "$port" "$dir"
    check_answers "$srv" "$port"
    if [[ $mode == update ]]; then check_update "$srv" "$port"; fi
    rss_idle=$(rss_tree "$SERVER_PID")

    local args shown serial0="" serial1=""
    if [[ $mode == update ]]; then
        serial0=$(soa_serial "$port")
        args=(-u -y "$TSIG" -s 127.0.0.1 -p "$port" -d "$UFILE" -l "$DURATION" -n "$MAX_RUNS"
            -c "$UPD_CLIENTS" -T 1 -q "$UPD_OUTSTANDING" -t "$UPD_TIMEOUT")
    else
        args=(-s 127.0.0.1 -p "$port" -d "$QFILE" -l "$DURATION" -n "$MAX_RUNS"
            -c 1 -T 1 -q "$OUTSTANDING" -t 2)
    fi
    if [[ -n $MAX_QPS ]]; then args+=(-Q "$MAX_QPS"); fi
    shown="${args[*]}"
    log "$srv: dnsperf ${shown//$TSIG_SECRET/SECRET}"
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
    # (in update mode dnsperf says "Updates ..." where it otherwise says "Queries ...")
    qps=$(awk '/^ *(Queries|Updates) per second:/ { printf "%.0f", $4 }' "$dir/dnsperf.out")
    lat=$(awk '/Average Latency \(s\):/ { printf "%.3f", $4 * 1000 }' "$dir/dnsperf.out")
    sent=$(dnsperf_field "$dir/dnsperf.out" "sent:" 1)
    completed=$(dnsperf_field "$dir/dnsperf.out" "completed:" 1)
    lost=$(dnsperf_field "$dir/dnsperf.out" "lost:" 1)
    rcodes=$(sed -n 's/^ *Response codes: *//p' "$dir/dnsperf.out")
    [[ -n $qps && -n $lat && -n $completed && -n $lost ]] ||
        { cat "$dir/dnsperf.out" >&2; die "$srv: could not parse dnsperf output (above)"; }
    ((completed > 0)) || { cat "$dir/dnsperf.out" >&2; die "$srv: nothing completed under load (dnsperf output above)"; }

    if [[ $mode == query ]]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$qps" "$lat" "$lost" "$completed" \
            "$sent" "$rss_idle" "$rss_after" "$cpu_s" "$rcodes" >"$TMP/result.$mode.$srv"
        log "$srv: $qps qps, ${lat} ms avg, lost $lost of $sent; server CPU ${cpu_s} s; $rcodes"
    else
        local noerror other delta durable=skipped serial_acked serial_back got
        noerror=$(grep -o 'NOERROR [0-9]*' <<<"$rcodes" | awk '{ print $2; exit }') || true
        noerror=${noerror:-0}
        other=$((completed - noerror))
        if ((noerror * 100 < completed * MIN_NOERROR_PCT)); then
            cat "$dir/dnsperf.out" >&2
            die "$srv: only $noerror of $completed updates answered NOERROR (response codes: $rcodes); need ${MIN_NOERROR_PCT}%: these update numbers would be meaningless"
        fi
        serial1=$(soa_serial "$port")
        [[ -n $serial0 && -n $serial1 ]] || die "$srv: could not read the SOA serial (before '$serial0', after '$serial1')"
        delta=$(awk -v a="$serial0" -v b="$serial1" 'BEGIN { d = b - a; if (d < 0) d += 4294967296; printf "%d", d }')
        ((delta > 0)) || die "$srv: $noerror updates answered NOERROR but the SOA serial stayed at $serial0"
        if ((DURABILITY_CHECK)); then
            nsupd "$port" 1 'update add durable.bench.test. 300 TXT "acked before SIGKILL"' >"$dir/durable.log" ||
                { cat "$dir/durable.log" >&2; die "$srv: the signed update before the SIGKILL check failed"; }
            serial_acked=$(soa_serial "$port")
            log "$srv: update acknowledged (serial $serial_acked); SIGKILL, restart on the same data"
            kill_hard "$SERVER_PID"
            SERVER_PID=""
            start_server "$srv" "$port" "$dir" "$mode" 0
            wait_up "$srv" "$port" "$dir"
            got=$(dig_q "$port" durable.bench.test TXT +short) || true
            [[ $got == '"acked before SIGKILL"' ]] ||
                die "$srv: an update acknowledged before SIGKILL is gone after the restart (durable.bench.test TXT: '$got')"
            serial_back=$(soa_serial "$port")
            [[ $serial_back == "$serial_acked" ]] ||
                die "$srv: SOA serial $serial_acked before SIGKILL, $serial_back after the restart"
            durable=yes
            log "$srv: after SIGKILL + restart the last acknowledged update is there (serial $serial_back)"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$qps" "$lat" "$lost" "$completed" \
            "$sent" "$noerror" "$other" "$delta" "$cpu_s" "$rss_after" "$durable" "$rcodes" >"$TMP/result.$mode.$srv"
        log "$srv: $qps updates/s, ${lat} ms avg, lost $lost of $sent; $rcodes; serial +$delta; server CPU ${cpu_s} s"
    fi

    stop_tree "$SERVER_PID"
    SERVER_PID=""
    rm -f "$dir/server.pid"
}

servers_of() { if [[ $1 == query ]]; then echo "$QUERY_SERVERS"; else echo "$UPDATE_SERVERS"; fi; }

FAILED=()
for mode in "${MODES[@]}"; do
    for srv in $(servers_of "$mode"); do
        set +e
        (
            set -e
            bench_one "$srv" "$mode"
        )
        rc=$?
        set -e
        if ((rc == 130 || rc == 143)); then exit "$rc"; fi
        if ((rc != 0)); then FAILED+=("$srv ($mode)"); fi
    done
done

# -------------------------------------------------------------------- 5. tables
rate_of() { if [[ -f $TMP/result.$1.$2 ]]; then cut -f2 "$TMP/result.$1.$2"; fi; }
ratio() { # MODE A B
    local a b
    a=$(rate_of "$1" "$2")
    b=$(rate_of "$1" "$3")
    if [[ -n $a && -n $b ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
    else
        echo "n/a"
    fi
}

query_table() {
    local srv qps lat lost completed sent rss_i rss_a cpu other
    echo
    echo "QUERIES: dnsperf ${DURATION}s per server, UDP, -c 1 -T 1 -q $OUTSTANDING${MAX_QPS:+ -Q $MAX_QPS}, one server worker;"
    echo "zone bench.test. $(wc -l <"$ZONEFILE") records, $(wc -l <"$QFILE") queries (80% hit, 10% NXDOMAIN, 10% NODATA)"
    printf '%-8s | %10s | %16s | %13s | %14s | %15s | %12s\n' \
        server qps "avg latency (ms)" "lost" "RSS idle (KiB)" "RSS after (KiB)" "srv CPU (s)"
    printf '%s\n' "---------+------------+------------------+---------------+----------------+-----------------+-------------"
    for srv in $QUERY_SERVERS; do
        if [[ -f $TMP/result.query.$srv ]]; then
            IFS=$'\t' read -r _ qps lat lost completed sent rss_i rss_a cpu _ <"$TMP/result.query.$srv"
            printf '%-8s | %10s | %16s | %13s | %14s | %15s | %12s\n' \
                "$srv" "$qps" "$lat" "$lost/$sent" "$rss_i" "$rss_a" "$cpu"
        else
            printf '%-8s | %10s |\n' "$srv" FAILED
        fi
    done
    echo
    for other in knot nsd bind; do
        if [[ " $QUERY_SERVERS " == *" dynzone "* && " $QUERY_SERVERS " == *" $other "* ]]; then
            echo "ratio dynzone/$other: $(ratio query dynzone "$other") (qps)"
        fi
    done
    echo "note: RSS sums the server's process tree (NSD: main + xfrd + 1 server child, shared pages counted per process)."
    echo "      srv CPU = user+system seconds the server spent during the ${DURATION}s load."
}

update_table() {
    local srv ups lat lost completed sent noerror other delta cpu rss durable r fs
    echo
    echo "UPDATES: dnsperf -u ${DURATION}s per server, UDP, TSIG hmac-sha256 (key $TSIG_NAME), -c $UPD_CLIENTS -T 1 -q $UPD_OUTSTANDING -t $UPD_TIMEOUT${MAX_QPS:+ -Q $MAX_QPS}, one server worker;"
    echo "zone bench.test. $(wc -l <"$ZONEFILE") records; each update adds a name (A + TXT) and deletes the name added $UPD_WINDOW updates earlier ($UPDATES-update file, replayed)"
    printf '%-8s | %10s | %16s | %13s | %9s | %12s | %10s | %11s | %13s | %7s\n' \
        server updates/s "avg latency (ms)" lost NOERROR "other rcodes" "serial +N" "srv CPU (s)" "RSS after KiB" durable
    printf '%s\n' "---------+------------+------------------+---------------+-----------+--------------+------------+-------------+---------------+--------"
    for srv in $UPDATE_SERVERS; do
        if [[ -f $TMP/result.update.$srv ]]; then
            IFS=$'\t' read -r _ ups lat lost completed sent noerror other delta cpu rss durable _ <"$TMP/result.update.$srv"
            printf '%-8s | %10s | %16s | %13s | %9s | %12s | %10s | %11s | %13s | %7s\n' \
                "$srv" "$ups" "$lat" "$lost/$sent" "$noerror" "$other" "$delta" "$cpu" "$rss" "$durable"
        else
            printf '%-8s | %10s |\n' "$srv" FAILED
        fi
    done
    echo
    for other in knot bind; do
        if [[ " $UPDATE_SERVERS " == *" dynzone "* && " $UPDATE_SERVERS " == *" $other "* ]]; then
            r=$(ratio update dynzone "$other")
            if [[ $other == knot && $r != n/a ]]; then
                echo "ratio dynzone/$other: $r (updates/s; goal >= 2.00: $(awk -v r="$r" 'BEGIN { print (r >= 2) ? "met" : "NOT met" }'))"
            else
                echo "ratio dynzone/$other: $r (updates/s)"
            fi
        fi
    done
    fs=$(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 }')
    echo "durability (each server answers an update only once it is on disk; data in $TMP, ${fs:-unknown} file system):"
    echo "  dynzone  LMDB, synced to disk per commit (updates arriving together share a commit); --workers 1"
    echo "  knot     journal-content: changes, zonefile-sync: -1, journal-db-mode: robust (default; LMDB journal synced"
    echo "           per commit); udp-workers 1, background-workers 1 (Knot applies queued updates in batches)"
    echo "  bind     default: each update appended to the zone journal (.jnl) and synced; named -n 1"
    echo "  'durable': an update acknowledged just before SIGKILL was there after the restart (DURABILITY_CHECK=1)."
    echo "  'serial +N': SOA serial increase during the load; below the NOERROR count when a server makes one zone"
    echo "           version (one serial step) of a whole batch of updates."
    if [[ -n $SYNC_US ]]; then
        echo "  a 4 KiB O_DSYNC write (dd) takes ${SYNC_US} us on average in $TMP: what one sync to disk costs here."
        echo "           A slower disk hurts a sync per update (BIND) far more than a sync per batch (Knot, dynzone)."
    fi
    if [[ " $UPDATE_SERVERS " == *" knot "* ]]; then
        echo "note: Knot's update rate is bound by its answer latency rather than by CPU or disk (see its srv CPU), so"
        echo "      it grows with the updates in flight: compare several UPD_OUTSTANDING values (-q) before quoting a ratio."
    fi
}

# sync_write_us: average microseconds of one 4 KiB O_DSYNC write in $TMP (dd), or nothing.
sync_write_us() {
    local n=200 out secs
    out=$(LC_ALL=C dd if=/dev/zero of="$TMP/synctest" bs=4k count=$n oflag=dsync 2>&1) || { rm -f "$TMP/synctest"; return 0; }
    rm -f "$TMP/synctest"
    secs=$(sed -n 's/^.* copied, \([0-9.e+-]*\) s,.*$/\1/p' <<<"$out")
    if [[ -n $secs ]]; then awk -v s="$secs" -v n=$n 'BEGIN { printf "%.0f", s * 1e6 / n }'; fi
}
SYNC_US=""
if has_mode update; then SYNC_US=$(sync_write_us); fi

for mode in "${MODES[@]}"; do
    if [[ $mode == query ]]; then query_table; else update_table; fi
done
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: *//') ($(nproc) cores online)"
if ((PIN)); then
    echo "note: server pinned to CPU 0, dnsperf to CPU 1 (PIN=1); other tenants may still share them."
else
    echo "note: dnsperf runs on the same $(nproc) cores as the server (and anything else on the machine); numbers are relative, not absolute."
fi

if ((${#FAILED[@]})); then
    die "failed: ${FAILED[*]} (see messages above)"
fi
