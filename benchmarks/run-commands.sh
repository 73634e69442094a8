#!/usr/bin/env bash
# Whole-command timings on this machine (not a test). Usage:
#   benchmarks/run-commands.sh train            full recipe, bert-tiny shape, 40k reviews x 3 epochs: wall time + peak RSS
#   benchmarks/run-commands.sh predict [MODEL]  cold 'blockbuster predict "text"': median of 11 runs
#   benchmarks/run-commands.sh eval [MODEL]     'blockbuster eval' on the saved held-out split: wall time incl. load (5 runs)
# MODEL defaults to ./blockbuster-model. Uses the Release build of src/Blockbuster.Cli.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared
dotnet build -c Release src/Blockbuster.Cli -v q -nologo >/dev/null
BB=src/Blockbuster.Cli/bin/Release/net10.0/blockbuster
now() { date +%s.%N; }

case "${1:-}" in
  train)
    # The default recipe (LoRA r=8 on query/value, bf16 on this CPU) on a bert-tiny-shaped model. No pretrained
    # bert-tiny weights exist offline, so they start random (--from-scratch): the speed is the same.
    out=$(mktemp -d)/model
    /usr/bin/time -f "wall %e s, peak RSS %M KB" "$BB" train --data "$SHARED/data/imdb.csv" --model "$SHARED/models/bert-tiny" \
      --from-scratch --output "$out" "${@:2}"
    rm -rf "$(dirname "$out")"
    ;;
  predict)
    model=${2:-./blockbuster-model}
    "$BB" predict --model "$model" "warm the file cache" >/dev/null
    times=()
    for i in $(seq 11); do
      t0=$(now); "$BB" predict --model "$model" "I absolutely loved this movie. The characters were so well-developed!" >/dev/null; t1=$(now)
      times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "cold predict: median %.3f s (min %.3f, max %.3f) over %d runs\n", a[int((NR+1)/2)], a[1], a[NR], NR}'
    ;;
  eval)
    # Five runs, median reported: a shared 2-core VM drifts by ±10% between minutes.
    model=${2:-./blockbuster-model}
    /usr/bin/time -f "first run: wall %e s, peak RSS %M KB" "$BB" eval --model "$model"
    times=()
    for i in $(seq 4); do
      t0=$(now); json=$("$BB" eval --model "$model" --json); t1=$(now)
      times+=("$(echo "$t1 - $t0" | bc)")
      echo "run $((i + 1)): $(echo "$t1 - $t0" | bc) s wall, $(grep -o '"reviews_per_second":[0-9.]*' <<<"$json" | cut -d: -f2) reviews/s"
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "eval (runs 2-5): median %.2f s (min %.2f, max %.2f)\n", (a[2]+a[3])/2, a[1], a[NR]}'
    ;;
  *)
    sed -n '2,6p' "$0"; exit 2 ;;
esac
