# Shared by benches/server.sh and benches/soak.sh (sourced, not run): reading processes from
# /proc and writing a section of BENCHMARKS.md between two markers.

# Seconds in a duration such as 500ms, 30s, 2m or 1h.
seconds() {
  case "$1" in
    *ms) awk -v v="${1%ms}" 'BEGIN { print v / 1000 }' ;;
    *s) echo "${1%s}" ;;
    *m) awk -v v="${1%m}" 'BEGIN { print v * 60 }' ;;
    *h) awk -v v="${1%h}" 'BEGIN { print v * 3600 }' ;;
    *) echo "DURATION must end in ms, s, m or h: $1" >&2; exit 1 ;;
  esac
}

# utime + stime of a process, in clock ticks (0 once it is gone).
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Resident set size of a process, KiB (0 once it is gone).
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Busy clock ticks of the whole machine (all cores: user, nice, system, irq, softirq, steal).
# A process's stime includes the softirq time spent on its behalf, which /proc/stat books under
# softirq, so both must be in to subtract the server and the tester.
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# printf-style arithmetic: calc FORMAT EXPRESSION.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# Replaces what stands between BEGIN and END in the markdown file MD with the contents of FILE,
# first appending a section titled TITLE with the two markers when MD lacks them.
write_section() {
  local md=$1 title=$2 begin=$3 end=$4 file=$5
  if ! grep -qF "$begin" "$md"; then
    printf '\n## %s\n\n%s\n%s\n' "$title" "$begin" "$end" >>"$md"
  fi
  awk -v begin="$begin" -v end="$end" -v body="$file" '
    $0 == begin { print; while ((getline line < body) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
  ' "$md" >"$md.tmp"
  mv "$md.tmp" "$md"
}

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# A numeric figure of a loadtest JSON report (pretty-printed, one key per line): figure FILE KEY.
figure() { sed -n "s/^  \"$2\": \([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1" | head -n1; }
# The median of the numbers on stdin, one per line (nothing for no input).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# Exits with a message naming the script unless every tool given is on PATH: needs TOOL...
needs() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0") needs $tool" >&2; exit 1; }
  done
}

# The address the server logging to file $1 listens on: the one of its log line $2 (default
# "tickwire listening"), waiting up to 10 s for it. Fails (non-zero, message on stderr) when the
# line never comes; call it as `ADDR=$(listen_addr "$LOG") || exit 1`.
listen_addr() {
  local log=$1 msg=${2:-tickwire listening} addr=""
  for _ in $(seq 100); do
    addr=$(grep "\"$msg\"" "$log" 2>/dev/null | grep -o '127\.0\.0\.1:[0-9]*' | head -n1 || true)
    if [ -n "$addr" ]; then
      echo "$addr"
      return 0
    fi
    sleep 0.1
  done
  echo "the server did not start; see $log" >&2
  return 1
}

# Writes to file $1 the server config of the load benchmarks: a loopback listener, connection
# and join limits above every bot (they all come from 127.0.0.1), no replays, the throw-away
# data directory $2, the admin API on $3 ("" for none), matches of $4 players at $5 Hz that
# never end by time.
bench_config() {
  cat >"$1" <<EOF
[server]
listen = "127.0.0.1:0"
max_matches = 1000
max_connections = 100000
max_connections_per_ip = 100000
max_seats_per_ip = 100000
joins_per_ip_per_sec = 100000
max_messages_per_sec = 1000
drain_timeout_ms = 0
record_replays = false
data_dir = "$2"

[admin]
listen = "$3"

[game]
tick_rate = $5
max_players = $4
match_duration_secs = 86400
EOF
}
