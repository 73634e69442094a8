#!/usr/bin/env bash
# QLoRA accuracy parity and memory on all-MiniLM-L6-v2: the same LoRA run with and without --quantize nf4
# (same split, seed and batches), then eval of each with and without --quantize nf4; peak RSS from /usr/bin/time.
#   benchmarks/qlora-parity.sh [limit=10000] [max-length=128] [out-dir=/tmp/qlora-parity]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-10000}; length=${2:-128}; out=${3:-/tmp/qlora-parity}
cli=${BLOCKBUSTER:-src/Blockbuster.Cli/bin/Release/net10.0/blockbuster}
mkdir -p "$out"
common=(--data ../shared/data/imdb.csv --model ../shared/models/all-MiniLM-L6-v2 --limit "$limit" --max-length "$length" --epochs 1
        --lr 1e-3 --warmup-ratio 0.1 --lora-targets query,key,value,dense --overwrite)
run() {  # name, command...
  local name=$1; shift
  /usr/bin/time -v "$@" > "$out/$name.out" 2> "$out/$name.err"
  printf '%-16s wall %-10s peak RSS %6.0f MB\n' "$name" "$(grep 'Elapsed (wall' "$out/$name.err" | awk '{print $NF}')" \
    "$(grep 'Maximum resident' "$out/$name.err" | awk '{print $NF/1024}')"
}
run train-bf16 "$cli" train "${common[@]}" --output "$out/bf16"
run train-nf4 "$cli" train "${common[@]}" --output "$out/nf4" --quantize nf4
for model in bf16 nf4; do
  run "eval-$model" "$cli" eval --model "$out/$model" --json
  run "eval-$model-q" "$cli" eval --model "$out/$model" --json --quantize nf4
done
for model in bf16 nf4; do
  python3 -c "import json,sys; m=json.load(open('$out/$model/metrics.json')); print('$model held-out (%d reviews): accuracy %.4f precision %.4f recall %.4f f1 %.4f, train %.0f tokens/s' % (m['count'], m['accuracy'], m['precision'], m['recall'], m['f1'], m['train_tokens_per_second']))"
done
