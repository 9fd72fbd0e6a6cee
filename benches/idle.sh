#!/usr/bin/env bash
# Idle memory per upgraded WebSocket (issue #13, target 4): starts the release server pinned to
# core 0 with the connection caps and the hello and idle timeouts raised, reads its RSS, opens N
# upgraded connections that never send a frame (benches/idle.py, pinned to core 1), waits for
# the server to settle, reads its RSS again and prints KiB per connection.
#
# Usage: benches/idle.sh
# Environment (all optional):
#   COUNTS="5000 10000"   connection counts, one run each (a fresh server per run)
#   SETTLE=3              seconds between the last upgrade and the second RSS reading
#   BIN=path/to/tickwire  a binary to measure instead of building this checkout's
#   OUT=target/bench-idle where logs go
set -euo pipefail
cd "$(dirname "$0")/.."

COUNTS=${COUNTS:-"5000 10000"}
SETTLE=${SETTLE:-3}
OUT=${OUT:-target/bench-idle}
# shellcheck source=benches/common.sh
. benches/common.sh
needs taskset python3 awk
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/tickwire
fi
# Both ends hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)"

SERVER_PID=""
CLIENT_PID=""
cleanup() {
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT

for N in $COUNTS; do
  LOG="$OUT/server-$N.log"
  # Ten minutes of hello and idle timeout: the connections must outlive the measurement.
  TICKWIRE_SERVER_MAX_CONNECTIONS=100000 TICKWIRE_SERVER_MAX_CONNECTIONS_PER_IP=100000 \
    TICKWIRE_SERVER_HELLO_TIMEOUT_MS=600000 TICKWIRE_NET_IDLE_TIMEOUT_MS=600000 \
    TICKWIRE_SERVER_RECORD_REPLAYS=false TICKWIRE_SERVER_DATA_DIR="$OUT/data" \
    NO_COLOR=1 RUST_LOG=info taskset -c 0 "$BIN" serve --addr 127.0.0.1:0 --admin-addr "" \
    --log-format json >"$LOG" 2>&1 &
  SERVER_PID=$!
  ADDR=$(listen_addr "$LOG") || exit 1
  sleep 1
  BEFORE=$(rss_kib "$SERVER_PID")
  FIFO="$OUT/clients-$N.fifo"
  rm -f "$FIFO"; mkfifo "$FIFO"
  # The clients hold their sockets until their stdin (the fifo's writer, fd 3) closes.
  taskset -c 1 python3 benches/idle.py "${ADDR%:*}" "${ADDR##*:}" "$N" <"$FIFO" >"$OUT/clients-$N.log" 2>&1 &
  CLIENT_PID=$!
  exec 3>"$FIFO"
  for _ in $(seq 600); do
    grep -q '^ready' "$OUT/clients-$N.log" && break
    kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$OUT/clients-$N.log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^ready' "$OUT/clients-$N.log" || { echo "clients not ready" >&2; exit 1; }
  sleep "$SETTLE"
  AFTER=$(rss_kib "$SERVER_PID")
  exec 3>&-
  wait "$CLIENT_PID" 2>/dev/null || true
  CLIENT_PID=""
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  rm -f "$FIFO"
  echo "connections=$N rss_before_kib=$BEFORE rss_after_kib=$AFTER kib_per_connection=$(calc "%.2f" "($AFTER - $BEFORE) / $N")"
done
