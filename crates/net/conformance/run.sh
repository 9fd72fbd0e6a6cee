#!/usr/bin/env bash
# WebSocket conformance: runs the Autobahn fuzzingclient cases (driven by kosoku) against the
# net crate's echo example, and exits non-zero if any case fails.
#
# Excluded: 12.* and 13.* (permessage-deflate), because the server never offers compression.
# Everything else must pass; NON-STRICT and INFORMATIONAL verdicts count as passes, as they do
# in Autobahn (see the "Conformance" section of crates/net/src/lib.rs).
#
# Environment: AUTOBAHN_REPORT_DIR (default target/autobahn) receives the HTML/JSON reports;
# AUTOBAHN_TIMEOUT_SECS (default 900) bounds the whole kosoku run.
set -euo pipefail
cd "$(dirname "$0")/../../.."

KOSOKU_VERSION=0.1.0
REPORT_DIR=${AUTOBAHN_REPORT_DIR:-target/autobahn}
RUN_TIMEOUT=${AUTOBAHN_TIMEOUT_SECS:-900}

if ! command -v kosoku >/dev/null 2>&1; then
  echo "== installing kosoku $KOSOKU_VERSION"
  python3 -m pip install --quiet "kosoku==$KOSOKU_VERSION"
fi

echo "== building the echo example"
# Release: cases 9.* move 16 MiB messages and time them.
echo_bin=$(cargo build --release --locked -p tickwire-net --example echo --message-format=json \
  | python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "echo" and msg.get("executable"):
        print(msg["executable"])
')
if [ -z "$echo_bin" ]; then
  echo "could not find the built echo example" >&2
  exit 1
fi

work=$(mktemp -d)
echo_pid=
cleanup() {
  if [ -n "$echo_pid" ]; then
    kill "$echo_pid" 2>/dev/null || true
    wait "$echo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the example binds a free port and prints it.
"$echo_bin" 127.0.0.1:0 >"$work/echo.out" 2>"$work/echo.err" &
echo_pid=$!
addr=
for _ in $(seq 1 300); do
  addr=$(sed -n 's/^listening on //p' "$work/echo.out")
  [ -n "$addr" ] && break
  if ! kill -0 "$echo_pid" 2>/dev/null; then
    echo "echo example exited early:" >&2
    cat "$work/echo.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "echo example did not report its address" >&2
  exit 1
fi
echo "== echo example listening on $addr"

rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
echo "== kosoku $addr (excluding 12.* and 13.*: permessage-deflate is not offered)"
kosoku_status=0
timeout "$RUN_TIMEOUT" kosoku "$addr" -x '12.*' -x '13.*' -o "$REPORT_DIR" \
  >"$work/kosoku.log" 2>&1 || kosoku_status=$?
tail -n 5 "$work/kosoku.log"

# kosoku's exit status is one verdict; the summary below is another, so a case that kosoku
# tolerates but Autobahn would not (or a run that wrote no report) still fails the script.
python3 - "$REPORT_DIR/index.json" "$kosoku_status" <<'PY'
import collections
import json
import sys

path, kosoku_status = sys.argv[1], int(sys.argv[2])
try:
    with open(path) as f:
        index = json.load(f)
except (OSError, ValueError) as e:
    print(f"no readable report at {path}: {e}", file=sys.stderr)
    sys.exit(1)
cases = {case: r for agent in index.values() for case, r in agent.items()}
passing = {"OK", "NON-STRICT", "INFORMATIONAL"}
passing_close = {"OK", "INFORMATIONAL"}
failed = sorted(
    (case for case, r in cases.items()
     if r["behavior"] not in passing or r["behaviorClose"] not in passing_close),
    key=lambda c: [int(p) for p in c.split(".")],
)
counts = collections.Counter(r["behavior"] for r in cases.values())
print("verdicts: " + ", ".join(f"{n} {b}" for b, n in sorted(counts.items())))
for case in failed:
    r = cases[case]
    print(f"  FAILED {case}: behavior {r['behavior']}, close {r['behaviorClose']}", file=sys.stderr)
print(f"autobahn: {len(cases) - len(failed)} passed, {len(failed)} failed")
if failed or not cases or kosoku_status != 0:
    if kosoku_status != 0:
        print(f"kosoku exited with status {kosoku_status}", file=sys.stderr)
    sys.exit(1)
PY
