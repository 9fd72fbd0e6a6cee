#!/usr/bin/env bash
# Server cost benchmark: the release server pinned to core 0, `tickwire loadtest` pinned to
# core 1, at several bot counts (matches of 50, 30 Hz, random walk). For each count it reads the
# server's CPU time (utime + stime from /proc/PID/stat) and RSS (VmRSS) over the steady part of
# the run, after the ramp-up, and compares the CPU per player-tick with the floor: the CPU time
# of one plain write() of a frame of the same average size to a loopback TCP socket
# (`tickwire loadtest --write-floor BYTES`). The table goes into BENCHMARKS.md between the
# `server.sh` markers.
#
# Usage: benches/server.sh
# Environment (all optional):
#   BOTS="100 500 1000 2000"  bot counts, one run each (a fresh server per run)
#   DURATION=30s              measured time per run after the ramp-up (s or m suffix)
#   RAMP=500                  bots started per second
#   PER_MATCH=50              players per match
#   TICK_RATE=30              server tick rate, Hz
#   SERVER_CORE=0 LOADTEST_CORE=1   CPUs to pin to
#   OUT=target/bench-server   where JSON reports and logs go
#   BIN=path/to/tickwire      a binary to measure instead of building this checkout's
#   WRITE_MD=0                print the table only (for A/B runs of two binaries)
#   TESTER=path/to/tickwire   the load tester's binary (default BIN), kept fixed across an A/B
set -euo pipefail
cd "$(dirname "$0")/.."

BOTS=${BOTS:-"100 500 1000 2000"}
DURATION=${DURATION:-30s}
RAMP=${RAMP:-500}
PER_MATCH=${PER_MATCH:-50}
TICK_RATE=${TICK_RATE:-30}
SERVER_CORE=${SERVER_CORE:-0}
LOADTEST_CORE=${LOADTEST_CORE:-1}
OUT=${OUT:-target/bench-server}
BENCH_MD=BENCHMARKS.md
BEGIN_MARK='<!-- server.sh begin -->'
END_MARK='<!-- server.sh end -->'


# shellcheck source=benches/common.sh
. benches/common.sh
needs taskset awk getconf



RUN_S=$(seconds "$DURATION")
CLK_TCK=$(getconf CLK_TCK)
mkdir -p "$OUT"

if [ -z "${BIN:-}" ]; then
  echo "== cargo build --release"
  cargo build --release --quiet
  BIN=target/release/tickwire
fi
WRITE_MD=${WRITE_MD:-1}
# The load tester (and the write floor) stays the same binary across an A/B of servers.
TESTER=${TESTER:-$BIN}

# The server under test (walking bots never fire, so arena's score limit never ends a match,
# and the config suits binaries from before and after [arena] existed): matches of PER_MATCH, connection limits above every bot (they all
# come from 127.0.0.1), no replays, no admin port, a throw-away data directory.
CONFIG="$OUT/server.toml"
bench_config "$CONFIG" "$OUT/data" "" "$PER_MATCH" "$TICK_RATE"

ROWS=()
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

for N in $BOTS; do
  echo "== $N bots, ${DURATION} at ${TICK_RATE} Hz, matches of $PER_MATCH"
  LOG="$OUT/server-$N.log"
  NO_COLOR=1 RUST_LOG=info taskset -c "$SERVER_CORE" "$BIN" serve --config "$CONFIG" \
    --log-format json >"$LOG" 2>&1 &
  SERVER_PID=$!
  ADDR=$(listen_addr "$LOG") || exit 1
  sleep 0.5
  RSS_IDLE=$(rss_kib "$SERVER_PID")

  JSON="$OUT/loadtest-$N.json"
  RUST_LOG=warn taskset -c "$LOADTEST_CORE" "$TESTER" loadtest --url "ws://$ADDR/ws" \
    --bots "$N" --per-match "$PER_MATCH" --ramp "$RAMP" --duration "$DURATION" \
    --behavior walk --json "$JSON" --quiet >"$OUT/loadtest-$N.log" 2>&1 &
  TESTER_PID=$!
  # Measure the steady state only: from 1.5 s after the last bot started to 0.5 s before the end.
  RAMP_S=$(calc "%.3f" "$N / $RAMP")
  WINDOW_S=$(calc "%.3f" "$RUN_S - 2")
  if awk -v w="$WINDOW_S" 'BEGIN { exit !(w < 1) }'; then
    echo "DURATION must be at least 3s" >&2; exit 1
  fi
  sleep "$(calc "%.3f" "$RAMP_S + 1.5")"
  T0=$(now); C0=$(cpu_ticks "$SERVER_PID"); L0=$(cpu_ticks "$TESTER_PID"); M0=$(machine_busy)
  sleep "$WINDOW_S"
  T1=$(now); C1=$(cpu_ticks "$SERVER_PID"); L1=$(cpu_ticks "$TESTER_PID"); M1=$(machine_busy)
  RSS=$(rss_kib "$SERVER_PID")
  wait "$TESTER_PID" || echo "loadtest exited with $? (see $OUT/loadtest-$N.log)" >&2
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""

  FRAME_BYTES=$(figure "$JSON" bytes_per_frame)
  # The WebSocket header of a server frame: 2 bytes below 126 bytes of payload, 4 up to 64 KiB.
  WRITE_BYTES=$(calc "%d" "$FRAME_BYTES + ($FRAME_BYTES < 126 ? 2 : 4) + 0.5")
  FLOOR_NS=$(taskset -c "$SERVER_CORE" "$TESTER" loadtest --write-floor "$WRITE_BYTES" |
    sed -n 's/.*"cpu_ns_per_write":\([0-9.eE+-]*\).*/\1/p')

  ELAPSED=$(calc "%.6f" "$T1 - $T0")
  SERVER_NS=$(calc "%.0f" "($C1 - $C0) * 1e9 / $CLK_TCK")
  CPU_PCT=$(calc "%.1f" "$SERVER_NS / ($ELAPSED * 1e9) * 100")
  TESTER_PCT=$(calc "%.1f" "($L1 - $L0) * 1e9 / $CLK_TCK / ($ELAPSED * 1e9) * 100")
  # Everything else that ran meanwhile, so a run disturbed by other work shows it.
  OTHER_PCT=$(calc "%.1f" "(($M1 - $M0) - ($C1 - $C0) - ($L1 - $L0)) / $CLK_TCK / $ELAPSED * 100")
  PLAYER_TICKS=$(calc "%.0f" "$N * $ELAPSED * $TICK_RATE")
  NS_PER_PT=$(calc "%.0f" "$SERVER_NS / $PLAYER_TICKS")
  RATIO=$(calc "%.1f" "$NS_PER_PT / $FLOOR_NS")
  RSS_MIB=$(calc "%.1f" "$RSS / 1024")
  KIB_PER_PLAYER=$(calc "%.1f" "($RSS - $RSS_IDLE) / $N")
  ROW="| $N | $(figure "$JSON" matches) | $(calc "%.3f" "$(figure "$JSON" frame_ratio)") \
| $(calc "%.2f" "$(figure "$JSON" p99_input_latency_ticks)") \
| $(calc "%.2f" "$(figure "$JSON" p99_rtt_ms)") | $(figure "$JSON" errors) \
| $CPU_PCT | $NS_PER_PT | $WRITE_BYTES | $(calc "%.0f" "$FLOOR_NS") | $RATIO \
| $RSS_MIB | $KIB_PER_PLAYER | $TESTER_PCT | $OTHER_PCT |"
  echo "$ROW"
  ROWS+=("$ROW")
done

TABLE=$(
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr))."
  echo "Command: \`BOTS=\"$BOTS\" DURATION=$DURATION RAMP=$RAMP benches/server.sh\`; server pinned to core $SERVER_CORE, load tester to core $LOADTEST_CORE; matches of $PER_MATCH at $TICK_RATE Hz, bots random-walking with one input per tick. CPU and RSS are read over the steady state (from 1.5 s after the ramp-up to 0.5 s before the end). \"Other processes\" is the rest of the machine's busy time meanwhile (clock-tick sampled, so a few points either side of 0 on a quiet machine): a large value means the run was disturbed."
  echo
  echo "| bots | matches | frame ratio | p99 input latency beyond RTT (ticks) | p99 RTT (ms) | errors | server CPU (% of a core) | server CPU per player-tick (ns) | frame size (B) | write() floor (ns) | cost / floor | server RSS (MiB) | RSS per player (KiB) | load tester CPU (% of a core) | other processes (% of a core) |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${ROWS[@]}"
)

if [ ! -f "$BENCH_MD" ]; then
  cat >"$BENCH_MD" <<EOF
# Benchmarks

Figures measured on the machine and date each section states, by the command it states.
Micro-benchmarks of the protocol and simulation: \`cargo bench\` (criterion).

## Server cost (benches/server.sh)

$BEGIN_MARK
$END_MARK
EOF
fi
TABLE_FILE="$OUT/table.md"
printf '%s\n' "$TABLE" >"$TABLE_FILE"
if [ "$WRITE_MD" = 0 ]; then
  cat "$TABLE_FILE"
  exit 0
fi
write_section "$BENCH_MD" "Server cost (benches/server.sh)" "$BEGIN_MARK" "$END_MARK" "$TABLE_FILE"
echo "== wrote the table into $BENCH_MD"
cat "$TABLE_FILE"
