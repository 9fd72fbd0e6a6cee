#!/usr/bin/env bash
# The cost of in-match chat: one match of 50 bots at 30 Hz, random walk, with and without chat
# (each bot sending CHAT_PER_MIN lines a minute), interleaved ROUNDS times. The release server
# is pinned to core 0 and `tickwire loadtest` to core 1; for each run it reads the server's CPU
# time over the steady part, and the loadtest's bytes per bot per second (all messages, and
# chat alone). Prints one row per run and the medians; the table goes into BENCHMARKS.md between
# the `chat.sh` markers.
#
# Usage: benches/chat.sh
# Environment (all optional):
#   BIN=target/release/tickwire   the binary under test
#   BOTS=50                       bots, all in one match
#   CHAT_PER_MIN=6                lines per bot per minute in the chat runs (6: one every 10 s)
#   DURATION=30s                  measured time per run after the ramp-up
#   ROUNDS=3                      interleaved pairs of runs
#   SERVER_CORE=0 LOADTEST_CORE=1
#   OUT=target/bench-chat
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/tickwire}
BOTS=${BOTS:-50}
CHAT_PER_MIN=${CHAT_PER_MIN:-6}
DURATION=${DURATION:-30s}
ROUNDS=${ROUNDS:-3}
SERVER_CORE=${SERVER_CORE:-0}
LOADTEST_CORE=${LOADTEST_CORE:-1}
OUT=${OUT:-target/bench-chat}
BENCH_MD=BENCHMARKS.md
BEGIN_MARK='<!-- chat.sh begin -->'
END_MARK='<!-- chat.sh end -->'

# shellcheck source=benches/common.sh
. benches/common.sh
needs taskset awk getconf
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release first" >&2; exit 1; }
mkdir -p "$OUT"
CLK_TCK=$(getconf CLK_TCK)
RUN_S=$(seconds "$DURATION")

CONFIG="$OUT/server.toml"
cat >"$CONFIG" <<EOF
[server]
listen = "127.0.0.1:0"
max_connections_per_ip = 100000
max_seats_per_ip = 100000
joins_per_ip_per_sec = 100000
drain_timeout_ms = 0
record_replays = false
data_dir = "$OUT/data"

[admin]
listen = ""

[game]
tick_rate = 30
max_players = $BOTS
match_duration_secs = 86400

[arena]
score_limit = 0
EOF

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

# One run: prints "cpu_pct bytes_per_bot_per_s chat_bytes_per_bot_per_s chat_received errors".
run() {
  local rate=$1 tag=$2
  local log="$OUT/server-$tag.log" json="$OUT/loadtest-$tag.json"
  NO_COLOR=1 RUST_LOG=info taskset -c "$SERVER_CORE" "$BIN" serve --config "$CONFIG" \
    --log-format json >"$log" 2>&1 &
  SERVER_PID=$!
  local addr
  addr=$(listen_addr "$log") || exit 1
  RUST_LOG=warn taskset -c "$LOADTEST_CORE" "$BIN" loadtest --url "ws://$addr/ws" \
    --bots "$BOTS" --per-match "$BOTS" --ramp 200 --duration "$DURATION" --behavior walk \
    --chat-per-min "$rate" --json "$json" --quiet >"$OUT/loadtest-$tag.log" 2>&1 &
  local tester=$!
  sleep 2
  local t0 c0 t1 c1
  t0=$(now); c0=$(cpu_ticks "$SERVER_PID")
  sleep "$(calc "%.3f" "$RUN_S - 2.5")"
  t1=$(now); c1=$(cpu_ticks "$SERVER_PID")
  wait "$tester" || echo "loadtest exited with $? (see $OUT/loadtest-$tag.log)" >&2
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  echo "$(calc "%.2f" "($c1 - $c0) / $CLK_TCK / ($t1 - $t0) * 100") \
$(calc "%.1f" "$(figure "$json" bytes_per_bot_per_s)") \
$(calc "%.1f" "$(figure "$json" chat_bytes_per_bot_per_s)") \
$(figure "$json" chat_received) $(figure "$json" errors)"
}

ROWS="$OUT/rows.txt"
: >"$ROWS"
for r in $(seq "$ROUNDS"); do
  for mode in off on; do
    rate=0
    [ "$mode" = on ] && rate=$CHAT_PER_MIN
    line=$(run "$rate" "$mode-$r")
    echo "round $r, chat $mode: cpu % / B per bot per s / chat B per bot per s / lines received / errors = $line"
    echo "$mode $line" >>"$ROWS"
  done
done

TABLE="$OUT/table.md"
{
  echo "One match of $BOTS bots, 30 Hz, random walk, $DURATION per run, $ROUNDS interleaved pairs;"
  echo "chat runs: every bot sends $CHAT_PER_MIN lines a minute. Medians. Command: \`benches/chat.sh\`."
  echo
  echo "| chat | server CPU, % of a core | bytes per client per s (all) | of which chat | chat lines received | errors |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for mode in off on; do
    col() { awk -v m="$mode" -v c="$1" '$1 == m { print $c }' "$ROWS" | median; }
    echo "| $mode | $(col 2) | $(col 3) | $(col 4) | $(col 5) | $(col 6) |"
  done
} >"$TABLE"
cat "$TABLE"
write_section "$BENCH_MD" "Chat" "$BEGIN_MARK" "$END_MARK" "$TABLE"
