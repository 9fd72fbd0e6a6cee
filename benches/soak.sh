#!/usr/bin/env bash
# Soak test: the release server pinned to core 0 (admin API on a free port, data in a temporary
# directory, the default message cap and timeouts, matches of 50 that end and restart every
# `game.match_duration_secs`), `tickwire loadtest` pinned to core 1 with a share of hostile bots
# (slow readers, flooders, reconnectors) for a long run. Every 10 s it samples the server's RSS
# (VmRSS), the worst `tick_p99_ms` over the admin API's `GET /matches`, the tick overruns so far
# (`tickwire_tick_overruns_total` of `GET /metrics`, summed over its labels) and the players
# connected (`tickwire_players_connected`). At the end it writes the samples and a summary (memory
# growth, tick p99 against the budget, overruns, hostile disconnects by close code, the load
# tester's report) into BENCHMARKS.md between the `soak.sh` markers.
#
# Usage: benches/soak.sh               (30 minutes; DURATION=1m benches/soak.sh for a quick try)
# Environment (all optional):
#   DURATION=30m            measured time of the load test after its ramp-up (s, m or h suffix)
#   BOTS=300                bots in total
#   HOSTILE=20              share of them that is hostile, percent
#   PER_MATCH=50            players per match
#   MATCH_SECS=300          length of a match, s (game.match_duration_secs); shorter means more
#                           match turnovers in the run, the place where memory could leak
#   TICK_RATE=30            server tick rate, Hz
#   INTERVAL=10             seconds between samples
#   SERVER_CORE=0 LOADTEST_CORE=1   CPUs to pin to
#   OUT=target/bench-soak   where the samples, logs and the JSON report go
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30m}
BOTS=${BOTS:-300}
HOSTILE=${HOSTILE:-20}
PER_MATCH=${PER_MATCH:-50}
MATCH_SECS=${MATCH_SECS:-300}
TICK_RATE=${TICK_RATE:-30}
INTERVAL=${INTERVAL:-10}
SERVER_CORE=${SERVER_CORE:-0}
LOADTEST_CORE=${LOADTEST_CORE:-1}
OUT=${OUT:-target/bench-soak}
BENCH_MD=BENCHMARKS.md
BEGIN_MARK='<!-- soak.sh begin -->'
END_MARK='<!-- soak.sh end -->'

# shellcheck source=benches/common.sh
. benches/common.sh
needs taskset awk curl sort getconf

# Median of the numbers on stdin (empty input: empty output).

RUN_S=$(seconds "$DURATION")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA=$(mktemp -d "${TMPDIR:-/tmp}/tickwire-soak.XXXXXX")

echo "== cargo build --release"
cargo build --release --quiet
BIN=target/release/tickwire

# The server under test: defaults but for free ports, matches of PER_MATCH, connection limits
# above every bot (all from 127.0.0.1), a quick exit on SIGTERM and a throw-away data directory.
# The message cap (server.max_messages_per_sec), stall and idle timeouts and reconnect grace
# stay at their defaults: the hostile bots are meant to hit them.
CONFIG="$OUT/server.toml"
cat >"$CONFIG" <<EOF
[server]
listen = "127.0.0.1:0"
max_connections = 100000
max_connections_per_ip = 100000
max_seats_per_ip = 100000
joins_per_ip_per_sec = 100000
drain_timeout_ms = 0
data_dir = "$DATA"

[admin]
listen = "127.0.0.1:0"

[game]
tick_rate = $TICK_RATE
max_players = $PER_MATCH
match_duration_secs = $MATCH_SECS
EOF

SERVER_PID=""
TESTER_PID=""
cleanup() {
  [ -n "$TESTER_PID" ] && kill "$TESTER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

LOG="$OUT/server.log"
NO_COLOR=1 RUST_LOG=info taskset -c "$SERVER_CORE" "$BIN" serve --config "$CONFIG" \
  --log-format json >"$LOG" 2>&1 &
SERVER_PID=$!
ADDR=$(listen_addr "$LOG") || exit 1
ADMIN=$(listen_addr "$LOG" "admin API listening") || exit 1
echo "== server on $ADDR, admin API on $ADMIN (pid $SERVER_PID)"

# Worst tick p99 over the running matches, ms ("-" with none, "?" when the API did not answer).
worst_p99() {
  local body
  body=$(curl -fsS --max-time 5 "http://$ADMIN/matches" 2>/dev/null) || { echo "?"; return; }
  grep -o '"tick_p99_ms":[0-9.eE+-]*' <<<"$body" | cut -d: -f2 |
    awk 'NR == 1 || $1 > m { m = $1 } END { print NR ? m : "-" }'
}
# Sum of a Prometheus metric over its labels (0 when absent).
metric_sum() {
  awk -v name="$1" '$1 == name || index($1, name "{") == 1 { s += $NF } END { printf "%.0f", s }' \
    "$2"
}

SAMPLES="$OUT/samples.tsv"
HEADER='elapsed_s\trss_kib\tworst_tick_p99_ms\toverruns\tplayers_connected\tconnections_open\tserver_cpu_pct\tother_cpu_pct\n'
printf "$HEADER" >"$SAMPLES"
CLK_TCK=$(getconf CLK_TCK)
PREV_T="" PREV_S=0 PREV_L=0 PREV_M=0
# CPU of the server and of everything but the server and the tester since the last sample, % of
# a core: a run disturbed by other work shows it.
cpu_since_last() {
  local t s l m
  t=$(date +%s.%N) s=$(cpu_ticks "$SERVER_PID") l=$(cpu_ticks "${TESTER_PID:-0}") m=$(machine_busy)
  if [ -n "$PREV_T" ]; then
    awk -v dt="$(calc "%.6f" "$t - $PREV_T")" -v ds="$((s - PREV_S))" -v dl="$((l - PREV_L))" \
      -v dm="$((m - PREV_M))" -v hz="$CLK_TCK" \
      'BEGIN { printf "%.1f\t%.1f", ds / hz / dt * 100, (dm - ds - dl) / hz / dt * 100 }'
  else
    printf -- '-\t-'
  fi
  PREV_T=$t PREV_S=$s PREV_L=$l PREV_M=$m
}
sample() {
  local elapsed=$1 metrics="$OUT/metrics.txt"
  curl -fsS --max-time 5 "http://$ADMIN/metrics" >"$metrics" 2>/dev/null || : >"$metrics"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$elapsed" "$(rss_kib "$SERVER_PID")" "$(worst_p99)" \
    "$(metric_sum tickwire_tick_overruns_total "$metrics")" \
    "$(metric_sum tickwire_players_connected "$metrics")" \
    "$(metric_sum tickwire_connections_open "$metrics")" "$(cpu_since_last)" >>"$SAMPLES"
  tail -n1 "$SAMPLES"
}

STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
sample 0
JSON="$OUT/loadtest.json"
TESTER_LOG="$OUT/loadtest.log"
RUST_LOG=warn taskset -c "$LOADTEST_CORE" "$BIN" loadtest --url "ws://$ADDR/ws" \
  --bots "$BOTS" --per-match "$PER_MATCH" --hostile "$HOSTILE" --duration "$DURATION" \
  --json "$JSON" >"$TESTER_LOG" 2>&1 &
TESTER_PID=$!
T0=$(date +%s)
echo "== $BOTS bots ($HOSTILE % hostile) for $DURATION; samples every ${INTERVAL}s into $SAMPLES"
printf "$HEADER"
# The CPU columns of the first sample cover the ramp-up, once the tester runs.
cpu_since_last >/dev/null
k=1
while kill -0 "$TESTER_PID" 2>/dev/null; do
  target=$((T0 + k * INTERVAL))
  while [ "$(date +%s)" -lt "$target" ] && kill -0 "$TESTER_PID" 2>/dev/null; do sleep 1; done
  kill -0 "$TESTER_PID" 2>/dev/null || break
  sample $((k * INTERVAL))
  k=$((k + 1))
done
TESTER_STATUS=0
wait "$TESTER_PID" || TESTER_STATUS=$?
TESTER_PID=""
END_ELAPSED=$(($(date +%s) - T0))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$TESTER_STATUS" -eq 0 ] || echo "loadtest exited with $TESTER_STATUS (see $TESTER_LOG)" >&2
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# ---- summary --------------------------------------------------------------------------------
BUDGET_MS=$(calc "%.1f" "1000 / $TICK_RATE")
# Rows after the header, without the idle sample at 0 s.
rows() { awk -F'\t' 'NR > 1 && $1 > 0' "$SAMPLES"; }
NROWS=$(rows | wc -l)
[ "$NROWS" -gt 0 ] || { echo "no samples taken" >&2; exit 1; }
LAST_ELAPSED=$(rows | tail -n1 | cut -f1)
# Early window: from 60 s to 300 s into the run (the first third for runs under 15 min);
# late window: the last 5 minutes (the last third).
if [ "$LAST_ELAPSED" -ge 900 ]; then
  EARLY_FROM=60 EARLY_TO=300 LATE_FROM=$((LAST_ELAPSED - 300))
else
  EARLY_FROM=$((LAST_ELAPSED / 10)) EARLY_TO=$((LAST_ELAPSED / 3)) LATE_FROM=$((LAST_ELAPSED * 2 / 3))
fi
EARLY_MED=$(rows | awk -F'\t' -v a="$EARLY_FROM" -v b="$EARLY_TO" '$1 >= a && $1 <= b { print $2 }' | median)
LATE_MED=$(rows | awk -F'\t' -v a="$LATE_FROM" '$1 > a { print $2 }' | median)
# A run too short for a window to hold a sample compares its first and last samples instead.
EARLY_MED=${EARLY_MED:-$(rows | head -n1 | cut -f2)}
LATE_MED=${LATE_MED:-$(rows | tail -n1 | cut -f2)}
# The sample nearest 5 minutes (or the early window's end) against the last.
AT5=$(rows | awk -F'\t' -v t="$EARLY_TO" '{ d = $1 - t; d = d < 0 ? -d : d; if (NR == 1 || d < best) { best = d; v = $2; e = $1 } } END { print e "\t" v }')
AT5_S=$(cut -f1 <<<"$AT5") AT5_KIB=$(cut -f2 <<<"$AT5")
END_KIB=$(rows | tail -n1 | cut -f2)
GROWTH_POINT=$(calc "%+.1f" "($END_KIB - $AT5_KIB) / $AT5_KIB * 100")
GROWTH_MED=$(calc "%+.1f" "($LATE_MED - $EARLY_MED) / $EARLY_MED * 100")
MAX_P99=$(rows | cut -f3 | grep -v '[?-]' | sort -g | tail -n1)
MAX_P99_AT=$(rows | awk -F'\t' -v m="$MAX_P99" '$3 == m { print $1; exit }')
MED_P99=$(rows | cut -f3 | grep -v '[?-]' | median)
OVERRUNS=$(rows | tail -n1 | cut -f4)
SAMPLES_OVER_BUDGET=$(rows | awk -F'\t' -v b="$BUDGET_MS" '$3 != "?" && $3 != "-" && $3 > b' | wc -l)
OTHER_MEAN=$(rows | awk -F'\t' '$8 != "-" && $8 != "" { s += $8; n++ } END { printf "%.1f", n ? s / n : 0 }')
OTHER_MAX=$(rows | awk -F'\t' '$8 != "-" && $8 != "" && (!n++ || $8 > m) { m = $8; e = $1 } END { printf "%.1f %% at %d s", m, e }')
SERVER_CPU_MEAN=$(rows | awk -F'\t' '$7 != "-" && $7 != "" { s += $7; n++ } END { printf "%.1f", n ? s / n : 0 }')
HOSTILE_LINES=$(sed -n '/^hostile /,$p' "$TESTER_LOG")
REPORT=$(sed '/^hostile /,$d' "$TESTER_LOG" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
# One table row a minute when there are many samples (every sample is in samples.tsv).
STRIDE=1
[ "$NROWS" -gt 60 ] && STRIDE=$((60 / INTERVAL > 0 ? 60 / INTERVAL : 1))

SECTION=$(
  echo "Run $STARTED on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)); load average before: $LOAD_BEFORE, after: $LOAD_AFTER."
  echo "Command: \`DURATION=$DURATION BOTS=$BOTS HOSTILE=$HOSTILE MATCH_SECS=$MATCH_SECS benches/soak.sh\`: \`tickwire serve\` pinned to core $SERVER_CORE (default configuration but for free ports, matches of $PER_MATCH at $TICK_RATE Hz, connection limits above the bot count, a temporary data directory), \`tickwire loadtest --bots $BOTS --per-match $PER_MATCH --hostile $HOSTILE --duration $DURATION\` pinned to core $LOADTEST_CORE. Matches end after \`game.match_duration_secs\` ($MATCH_SECS s) and the bots join new ones. Samples every ${INTERVAL} s; the load test ran ${END_ELAPSED} s in all (ramp-up and stop included)."
  echo
  echo "| elapsed | server RSS (MiB) | worst tick p99 (ms) | tick overruns so far | players connected | connections open | server CPU (% of a core) | other processes (% of a core) |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' -v s="$STRIDE" -v n="$(wc -l <"$SAMPLES")" 'NR > 1 && ((NR - 2) % s == 0 || NR == n) {
      printf "| %d:%02d | %.1f | %s | %s | %s | %s | %s | %s |\n", $1 / 60, $1 % 60, $2 / 1024, $3, $4, $5, $6, $7, $8 }' "$SAMPLES"
  [ "$STRIDE" -gt 1 ] && echo && echo "(One sample a minute shown; all $NROWS are in \`$OUT/samples.tsv\` of the run.)"
  echo
  echo "The CPU columns cover the time since the previous sample (clock-tick sampled, and the kernel books per-process and machine-wide time differently: on this VM a quiet machine reads between about −8 and +2); \"other processes\" is everything but the server and the load tester: a large value means the run was disturbed, and a disturbed server core shows as late ticks and overruns."
  echo
  echo "Summary:"
  echo
  echo "- **Memory**: RSS $(calc "%.1f" "$AT5_KIB / 1024") MiB at $((AT5_S / 60)):$(printf %02d $((AT5_S % 60))), $(calc "%.1f" "$END_KIB / 1024") MiB at the end ($GROWTH_POINT %); median $(calc "%.1f" "$EARLY_MED / 1024") MiB over ${EARLY_FROM}–${EARLY_TO} s against $(calc "%.1f" "$LATE_MED / 1024") MiB after ${LATE_FROM} s ($GROWTH_MED %)."
  echo "- **Tick time**: worst match tick p99 $MAX_P99 ms (at ${MAX_P99_AT} s; median of the samples' worst $MED_P99 ms) against a budget of $BUDGET_MS ms at $TICK_RATE Hz; $SAMPLES_OVER_BUDGET of $NROWS samples above the budget."
  echo "- **CPU**: the server used $SERVER_CPU_MEAN % of its core on average; other processes $OTHER_MEAN % of a core on average (at most $OTHER_MAX)."
  echo "- **Overruns**: $OVERRUNS in total (\`tickwire_tick_overruns_total\`: a tick whose work took longer than its period, or a loop that fell more than 5 ticks behind)."
  echo "- **Hostile bots** (their disconnects by close code: 1008 stall or flood, 4000 idle timeout, 4002 seat taken over by a resume, 1006 link broken without a close, 1000 after a match end):"
  echo
  echo '```text'
  if [ -n "$HOSTILE_LINES" ]; then printf '%s\n' "$HOSTILE_LINES"; else echo "none (HOSTILE=0)"; fi
  echo '```'
  echo
  echo "- **Well-behaved bots** (the load tester's report, hostile bots excluded; exit status $TESTER_STATUS):"
  echo
  echo '```text'
  printf '%s\n' "$REPORT"
  echo '```'
)

if [ ! -f "$BENCH_MD" ]; then
  printf '# Benchmarks\n' >"$BENCH_MD"
fi
SECTION_FILE="$OUT/section.md"
printf '%s\n' "$SECTION" >"$SECTION_FILE"
write_section "$BENCH_MD" "Soak (benches/soak.sh)" "$BEGIN_MARK" "$END_MARK" "$SECTION_FILE"
echo "== wrote the soak section into $BENCH_MD"
cat "$SECTION_FILE"
