#!/usr/bin/env bash
# `blockbuster predict --file` on a large file: does memory stay flat? Writes LINES short reviews (the first sentence
# of each review in ../shared/data/imdb.csv, cycled), streams them through predict, and samples the process's RSS
# every INTERVAL seconds next to how many lines have been answered.
#   benchmarks/predict-stream.sh MODEL [LINES] [INTERVAL]     LINES default 10,000,000; INTERVAL default 60
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath "${1:?usage: benchmarks/predict-stream.sh MODEL [LINES] [INTERVAL]}")
lines=${2:-10000000}
interval=${3:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# BLOCKBUSTER names another build of the CLI (a copy: rebuilding the one that runs would change it mid-run).
if [ -z "${BLOCKBUSTER:-}" ]; then dotnet build src/Blockbuster.Cli -c Release --nologo -v quiet >/dev/null; fi
cli=${BLOCKBUSTER:-src/Blockbuster.Cli/bin/Release/net10.0/blockbuster}
python3 - "$work/lines.txt" "$lines" <<'PY'
import csv, itertools, re, sys
sentences = []
with open("../shared/data/imdb.csv", encoding="utf-8", newline="") as f:
    for row in csv.DictReader(f):
        first = re.split(r"(?<=[.!?])\s+", row["review"].replace("<br />", " "))[0].strip()
        if 5 < len(first) < 300: sentences.append(first)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for s in itertools.islice(itertools.cycle(sentences), int(sys.argv[2])): out.write(s + "\n")
PY
printf 'input: %s lines, %s MB\n' "$lines" "$(( $(stat -c %s "$work/lines.txt") / 1000000 ))"
start=$(date +%s)
"$cli" predict --model "$model" --file "$work/lines.txt" > "$work/out.txt" 2> "$work/err.txt" &
pid=$!
peak=0
printf '%8s %12s %8s\n' seconds answered rss_mb
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
  (( rss > peak )) && peak=$rss
  printf '%8d %12d %8d\n' $(( $(date +%s) - start )) "$(wc -l < "$work/out.txt")" "$rss"
  sleep "$interval"
done
wait "$pid" && rc=0 || rc=$?
answered=$(wc -l < "$work/out.txt")
seconds=$(( $(date +%s) - start ))
[ "$rc" -eq 0 ] || { cp "$work/err.txt" "${PREDICT_STREAM_ERR:-/tmp/predict-stream.err}"; echo "stderr kept in ${PREDICT_STREAM_ERR:-/tmp/predict-stream.err}" >&2; }
printf 'exit %d; %d lines answered in %d s (%d lines/s); peak sampled RSS %d MB\n' "$rc" "$answered" "$seconds" $(( answered / (seconds > 0 ? seconds : 1) )) "$peak"
