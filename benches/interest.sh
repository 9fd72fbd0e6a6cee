#!/usr/bin/env bash
# One pinned interest-management run: the release server on core 0 with one match of BOTS
# players on MAP (arena's big-map: sized so each player sees about 50 others within 150 units;
# arena's open-arena: 1000 x 1000, everyone visible; soccer's pitch: the default 1600 x 1000
# five-a-side pitch; soccer's big-pitch: a 4000 x 2500 pitch with teams of up to 100),
# `tickwire loadtest` with as many bots on core 1 for 25 s (soccer's bots chase the ball). Prints one tab-separated row: label, bots connected, frame ratio, server CPU (% of a
# core, /proc over 10 s of steady state), CPU per player-tick (µs), worst match tick p99 (ms,
# admin GET /matches), bytes per client per second, bytes per frame, header bytes per frame,
# moving entities per frame, bytes per moving entity, p99 input latency (ticks), errors.
#
# Usage: benches/interest.sh LABEL MAP BOTS RADIUS
#   e.g. benches/interest.sh bm150 big-map 1000 150     (interest on, view radius 150 units)
#        benches/interest.sh bm0 big-map 1000 0         (interest off: everyone sees everyone)
#        benches/interest.sh oa50 open-arena 50 0       (the 50-player reference)
#        benches/interest.sh sp10 pitch 10 0            (soccer, five a side)
#        benches/interest.sh bp200 big-pitch 200 400    (soccer, 200 players, interest on)
# Environment: SERVER_CORE=0 LOADTEST_CORE=1, OUT=target/bench-interest (logs and JSON),
# BIN=path/to/tickwire (a binary to measure instead of building this checkout's).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 4 ] || { sed -n '12,19p' "$0" >&2; exit 2; }
LABEL=$1 MAP=$2 BOTS=$3 RADIUS=$4
SERVER_CORE=${SERVER_CORE:-0}
LOADTEST_CORE=${LOADTEST_CORE:-1}
OUT=${OUT:-target/bench-interest}
case $MAP in
  big-map | open-arena) GAME=arena MATCH_MAP=$MAP TESTER=(--scenario "$MAP") ;;
  pitch) GAME=soccer MATCH_MAP=pitch TESTER=(--game soccer) ;;
  big-pitch)
    GAME=soccer MATCH_MAP=pitch TESTER=(--game soccer)
    export TICKWIRE_SOCCER_PITCH_WIDTH=4000 TICKWIRE_SOCCER_PITCH_HEIGHT=2500
    export TICKWIRE_SOCCER_GOAL_WIDTH=600 TICKWIRE_SOCCER_TEAM_SIZE=100
    ;;
  *) echo "unknown MAP $MAP (big-map, open-arena, pitch, big-pitch)" >&2; exit 2 ;;
esac

# shellcheck source=benches/common.sh
. benches/common.sh

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/tickwire
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA=$(mktemp -d "${TMPDIR:-/tmp}/tickwire-interest.XXXXXX")
PORT=17777 ADMIN=17778

TICKWIRE_SERVER_DATA_DIR=$DATA TICKWIRE_GAME_VIEW_RADIUS=$RADIUS \
  TICKWIRE_SERVER_MAX_CONNECTIONS_PER_IP=100000 TICKWIRE_SERVER_MAX_MESSAGES_PER_SEC=1000 \
  TICKWIRE_SERVER_MAX_SEATS_PER_IP=100000 TICKWIRE_SERVER_JOINS_PER_IP_PER_SEC=100000 \
  TICKWIRE_ARENA_SCORE_LIMIT=0 TICKWIRE_SOCCER_SCORE_LIMIT=0 TICKWIRE_SERVER_RECORD_REPLAYS=false \
  taskset -c "$SERVER_CORE" "$BIN" serve --addr 127.0.0.1:$PORT --admin-addr 127.0.0.1:$ADMIN \
  >"$OUT/server-$LABEL.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do curl -sf "127.0.0.1:$ADMIN/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "127.0.0.1:$ADMIN/matches" -H 'content-type: application/json' \
  -d "{\"game\":\"$GAME\",\"map\":\"$MATCH_MAP\",\"max_players\":$BOTS,\"tick_rate\":30}" >/dev/null
taskset -c "$LOADTEST_CORE" "$BIN" loadtest --url "ws://127.0.0.1:$PORT/ws" "${TESTER[@]}" \
  --bots "$BOTS" --per-match "$BOTS" --ramp 500 --duration 25s --quiet \
  --json "$OUT/loadtest-$LABEL.json" >"$OUT/loadtest-$LABEL.log" 2>&1 &
TESTER_PID=$!
sleep 10
C1=$(cpu_ticks "$SERVER_PID")
sleep 10
C2=$(cpu_ticks "$SERVER_PID")
curl -sf "127.0.0.1:$ADMIN/matches" >"$OUT/matches-$LABEL.json"
wait "$TESTER_PID" || true
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true

python3 - "$LABEL" "$C1" "$C2" "$(getconf CLK_TCK)" "$OUT" <<'PY'
import json, sys
label, c1, c2, hz, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cpu = (c2 - c1) / hz / 10 * 100
d = json.load(open(f"{out}/loadtest-{label}.json"))
m = json.load(open(f"{out}/matches-{label}.json"))
per_tick = cpu / 100 / (max(d["connected"], 1) * 30) * 1e6
p99 = max((x.get("tick_p99_ms", 0) for x in m), default=0)
print("\t".join([label, str(d["connected"]), f"{d['frame_ratio']:.3f}", f"{cpu:.1f}",
                 f"{per_tick:.1f}", f"{p99:.2f}", f"{d['bytes_per_bot_per_s']:.0f}",
                 f"{d['bytes_per_frame']:.1f}", f"{d['header_bytes_per_frame']:.1f}",
                 f"{d['moving_entities_per_frame']:.1f}", f"{d['bytes_per_moving_entity']:.2f}",
                 f"{d['p99_input_latency_ticks']:.2f}", str(d["errors"])]))
PY
