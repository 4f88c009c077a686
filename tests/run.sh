#!/usr/bin/env bash
# The one command that runs every check of dynzone, on a fresh Debian machine too:
#   bash tests/run.sh
# It installs what the tests need when it is missing (Debian packages for the real
# DNS clients and zone checkers, cargo-fuzz), then runs: cargo fmt --check and clippy -D warnings
# (crate and fuzz/), every test, and each fuzz target for FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=(parse_message roundtrip tcp_frame handle_query handle_update keyfile transfer)

say() { printf '\n==> %s\n' "$*"; }

# --- what the tests need ------------------------------------------------------
missing=()
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v nsupdate >/dev/null 2>&1 || missing+=(bind9-dnsutils)
command -v kdig >/dev/null 2>&1 || missing+=(knot-dnsutils)
command -v knsupdate >/dev/null 2>&1 || missing+=(knot-dnsutils)
command -v knotd >/dev/null 2>&1 || missing+=(knot)
command -v nsd >/dev/null 2>&1 || missing+=(nsd)
command -v named >/dev/null 2>&1 || missing+=(bind9)
command -v named-checkzone >/dev/null 2>&1 || missing+=(bind9-utils)
command -v kzonecheck >/dev/null 2>&1 || missing+=(knot-dnssecutils)
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || missing+=(procps)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
/usr/bin/python3 -c 'import dns.message, dns.tsig' >/dev/null 2>&1 || missing+=(python3-dnspython)
/usr/bin/python3 -c 'import certbot_dns_rfc2136' >/dev/null 2>&1 || missing+=(python3-certbot-dns-rfc2136)
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "error: the nightly toolchain is needed for cargo fuzz (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# --- static checks --------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt --all -- --check)

say "cargo clippy -D warnings"
cargo clippy --all-targets -- -D warnings
(cd fuzz && cargo clippy --all-targets -- -D warnings)

# --- tests ----------------------------------------------------------------------
say "cargo test"
test_log=$(mktemp)
cargo test --all-targets 2>&1 | tee "$test_log"
cargo test --doc 2>&1 | tee -a "$test_log"
# Totals over every test binary, for the closing line.
passed=$(grep -o '[0-9]* passed' "$test_log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -o '[0-9]* failed' "$test_log" | awk '{s += $1} END {print s + 0}')
rm -f "$test_log"

# --- fuzz smoke run -------------------------------------------------------------
# Each target runs on a scratch copy of its committed seed corpus, so the
# committed corpus stays small; any crash fails this script.
say "fuzzing, ${FUZZ_SECONDS}s per target"
summary=()
for target in "${FUZZ_TARGETS[@]}"; do
    scratch=$(mktemp -d)
    log=$(mktemp)
    if ! (cd fuzz && cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -print_final_stats=1) >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "error: fuzz target $target failed (crash input under fuzz/artifacts/$target)" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    summary+=("$target: ${runs:-?} executions, 0 crashes")
    rm -rf "$scratch" "$log"
done
say "fuzz summary"
printf '%s\n' "${summary[@]}"
say "all checks passed"
echo "tests: $passed passed, $failed failed"
