#!/usr/bin/env bash
# Tick start jitter (issue #13, target 5): the release server pinned to core 0, `tickwire
# loadtest` pinned to core 1 (matches of PER_MATCH at 30 Hz, random walk). Over the steady state
# (from 1.5 s after the ramp-up to 0.5 s before the end) it reads the server's CPU time from /proc
# and the difference of two scrapes of `tickwire_tick_lateness_seconds` from /metrics, summed
# over the matches, and prints the p50 and p99 lateness: the upper bound of the bucket the
# quantile falls in, and the value interpolated linearly inside it (as histogram_quantile does).
#
# Usage: benches/jitter.sh
# Environment (all optional): BOTS=1000 DURATION=20s RAMP=500 PER_MATCH=50 TICK_RATE=30
#   ADMIN_PORT=17790 BIN=path/to/tickwire OUT=target/bench-jitter
set -euo pipefail
cd "$(dirname "$0")/.."

BOTS=${BOTS:-1000}
DURATION=${DURATION:-20s}
RAMP=${RAMP:-500}
PER_MATCH=${PER_MATCH:-50}
TICK_RATE=${TICK_RATE:-30}
ADMIN_PORT=${ADMIN_PORT:-17790}
OUT=${OUT:-target/bench-jitter}
# shellcheck source=benches/common.sh
. benches/common.sh
needs taskset python3 awk getconf
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/tickwire
fi
RUN_S=$(seconds "$DURATION")
CLK_TCK=$(getconf CLK_TCK)

CONFIG="$OUT/server.toml"
bench_config "$CONFIG" "$OUT/data" "127.0.0.1:$ADMIN_PORT" "$PER_MATCH" "$TICK_RATE"

scrape() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://127.0.0.1:$ADMIN_PORT/metrics" | grep '^tickwire_tick_lateness_seconds_bucket' >"$1"; }

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

LOG="$OUT/server.log"
NO_COLOR=1 RUST_LOG=info taskset -c 0 "$BIN" serve --config "$CONFIG" --log-format json >"$LOG" 2>&1 &
SERVER_PID=$!
ADDR=$(listen_addr "$LOG") || exit 1
sleep 0.5
RUST_LOG=warn taskset -c 1 "$BIN" loadtest --url "ws://$ADDR/ws" --bots "$BOTS" \
  --per-match "$PER_MATCH" --ramp "$RAMP" --duration "$DURATION" --behavior walk \
  --json "$OUT/loadtest.json" --quiet >"$OUT/loadtest.log" 2>&1 &
TESTER_PID=$!
sleep "$(calc "%.3f" "$BOTS / $RAMP + 1.5")"
scrape "$OUT/before.prom"; T0=$(now); C0=$(cpu_ticks "$SERVER_PID")
sleep "$(calc "%.3f" "$RUN_S - 2")"
scrape "$OUT/after.prom"; T1=$(now); C1=$(cpu_ticks "$SERVER_PID")
wait "$TESTER_PID" || echo "loadtest exited with $?" >&2
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

CPU_PCT=$(calc "%.1f" "($C1 - $C0) * 100 / $CLK_TCK / ($T1 - $T0)")
python3 - "$OUT/before.prom" "$OUT/after.prom" "$CPU_PCT" "$(figure "$OUT/loadtest.json" frame_ratio)" <<'PY'
import re, sys
def read(path):
    counts = {}
    for line in open(path):
        m = re.match(r'\S+\{(.*)\} (\S+)$', line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        key = (labels.get("match", ""), le)
        counts[key] = float(m.group(2))
    return counts
before, after = read(sys.argv[1]), read(sys.argv[2])
total = {}
for key, v in after.items():
    total[key[1]] = total.get(key[1], 0) + v - before.get(key, 0)
les = sorted(total)
n = total[float("inf")]
def quantile(q):
    rank, lo, prev = q * n, 0.0, 0.0
    for le in les:
        if total[le] >= rank:
            if le == float("inf"):
                return lo, lo
            frac = (rank - prev) / (total[le] - prev) if total[le] > prev else 1
            return le, lo + (le - lo) * frac
        lo, prev = le, total[le]
ms = lambda s: f"{s * 1e3:.3f}"
(b50, v50), (b99, v99) = quantile(0.5), quantile(0.99)
print(f"ticks={n:.0f} p50_ms={ms(v50)} (bucket <= {ms(b50)}) p99_ms={ms(v99)} (bucket <= {ms(b99)}) "
      f"server_cpu_pct={sys.argv[3]} frame_ratio={sys.argv[4]}")
PY
