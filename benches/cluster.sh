#!/usr/bin/env bash
# Three tickwire instances and one Redis on this machine; BOTS bots through the matchmaker of
# the first instance in matches of PER_MATCH; then a rated queue and parties of 4.
# Usage: BIN=target/release/tickwire BOTS=600 DURATION=20s benches/cluster.sh
# Prints the load-test table, matches per instance, the placement latency histogram summed
# over the instances, the rated queue's rating gaps and the party result.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/tickwire}
BOTS=${BOTS:-600}
PER_MATCH=${PER_MATCH:-50}
DURATION=${DURATION:-20s}
RAMP=${RAMP:-200}
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >/dev/null &
pids+=($!)
sleep 0.5
games=(); admins=()
for i in 1 2 3; do
  g=$(free_port); a=$(free_port)
  games+=("$g"); admins+=("$a")
  mkdir -p "$TMP/i$i"
  cat >"$TMP/i$i/server.toml" <<TOML
[server]
listen = "127.0.0.1:$g"
data_dir = "$TMP/i$i/data"
record_replays = false
max_matches = 8
max_connections_per_ip = 10000
max_seats_per_ip = 10000
joins_per_ip_per_sec = 10000
[admin]
listen = "127.0.0.1:$a"
[game]
max_players = $PER_MATCH
[cluster]
redis_url = "redis://127.0.0.1:$RP/"
instance_id = "inst$i"
max_tickets_per_ip = 100000
rating_window = 100.0
rating_window_widen_per_sec = 50.0
TOML
  RUST_LOG=warn "$BIN" --config "$TMP/i$i/server.toml" 2>"$TMP/i$i/log" &
  pids+=($!)
done
for a in "${admins[@]}"; do
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$a/readyz" >/dev/null && break; sleep 0.1; done
done
sleep 1.5
echo "== $BOTS bots via the matchmaker of inst1, matches of $PER_MATCH"
echo "command: $BIN loadtest --matchmake --url ws://127.0.0.1:${games[0]}/ws --bots $BOTS --per-match $PER_MATCH --ramp $RAMP --duration $DURATION"
"$BIN" loadtest --matchmake --url "ws://127.0.0.1:${games[0]}/ws" --bots "$BOTS" --per-match "$PER_MATCH" \
  --ramp "$RAMP" --duration "$DURATION" --json "$TMP/report.json" || true
echo "== matches per instance (GET /cluster during the run's end)"
for i in 0 1 2; do
  n=$(curl -s "127.0.0.1:${admins[$i]}/matches" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "inst$((i+1)): $n matches"
done
echo "== placement latency (tickwire_matchmaker_placement_latency_seconds, summed over instances)"
for a in "${admins[@]}"; do curl -s "127.0.0.1:$a/metrics"; done | python3 -c '
import sys, collections
b = collections.Counter()
for line in sys.stdin:
    if line.startswith("tickwire_matchmaker_placement_latency_seconds_bucket"):
        le = line.split("le=\"")[1].split("\"")[0]
        b[le] += float(line.rsplit(" ", 1)[1])
keys = sorted(b, key=lambda k: float("inf") if k == "+Inf" else float(k))
total = b["+Inf"]
for q in (0.5, 0.99):
    for k in keys:
        if b[k] >= q * total:
            print(f"p{int(q*100)} <= {k} s (of {int(total)} placements)"); break
print("cumulative buckets:", ", ".join(f"{k}:{int(b[k])}" for k in keys))
'
echo "== rated queue: 200 tickets, ratings uniform in 1000..2000, window 100 widening 50/s"
tickets=()
for n in $(seq 1 200); do
  r=$((1000 + RANDOM % 1000))
  t=$(curl -s -XPOST "127.0.0.1:${games[$((n % 3))]}/matchmake" -H 'content-type: application/json' \
    -d "{\"mode\":\"ranked\",\"rating\":$r}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"])')
  tickets+=("$t")
done
sleep 3
for t in "${tickets[@]}"; do curl -s "127.0.0.1:${games[0]}/matchmake/$t"; echo; done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
placed = [r for r in rows if r["state"] == "placed"]
gaps = sorted(r["rating_gap"] for r in placed)
queued = sum(r["state"] == "queued" for r in rows)
print(f"placed {len(placed)} of {len(rows)}; still queued {queued}")
if gaps:
    pick = lambda q: gaps[min(len(gaps)-1, int(q*len(gaps)))]
    print(f"rating gap p50 {pick(0.5):.1f}, p90 {pick(0.9):.1f}, p99 {pick(0.99):.1f}, max {gaps[-1]:.1f}")
    within = sum(g <= 100 for g in gaps)
    print(f"within the initial window of 100: {within} of {len(gaps)}")
'
echo "== parties: 25 parties of 4"
parties=()
for n in $(seq 1 25); do
  t=$(curl -s -XPOST "127.0.0.1:${games[$((n % 3))]}/matchmake" -H 'content-type: application/json' \
    -d "{\"mode\":\"party\",\"party\":[\"a$n\",\"b$n\",\"c$n\",\"d$n\"]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"])')
  parties+=("$t")
done
sleep 2
for t in "${parties[@]}"; do curl -s "127.0.0.1:${games[0]}/matchmake/$t"; echo; done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
placed = [r for r in rows if r["state"] == "placed"]
whole = sum(len(r["reservations"]) == 4 for r in placed)
print(f"parties placed {len(placed)} of {len(rows)}; with all 4 reservations in one match: {whole}")
'
