#!/usr/bin/env bash
# Reproduces #15's first target end to end (README "The original recipe on a base made here"): a bert-tiny base
# pretrained and distilled here, then the original recipe on it (`blockbuster train --model <base>`, every option at
# its default: LoRA r 8 on query/value, lr 3e-5, 3 epochs, batch 16 x 2, length 512), and the same with --quantize nf4,
# scored on the seed-42 held-out 10,000 of imdb.csv, which no stage trains on, labelled or not.
#   teacher-card  all-MiniLM-L6-v2 + LoRA on the 40,000 training reviews (shared with reproduce-student.sh)
#   base-gd       masked LM + general distillation from all-MiniLM-L6-v2, from random weights, 128-token blocks
#   base-512      a last general phase at 512 tokens (the recipe reads 512)
#   base-ts       masked LM + task-specific distillation from teacher-card: hidden states, and its predictions
#                 taught to a pooler the base keeps (256-token blocks, 50,000 texts)
#   base-ts2      a second such phase on another 50,000 texts drawn with another seed, the pooler continued
#   recipe, recipe-nf4   on base-ts2
# Stages print wall time, peak memory and metrics; a finished stage is skipped, an interrupted one resumes. About three
# hours on 2 cores; run it in the background and again after a stop.
#   scripts/reproduce-recipe-base.sh [RUNS_DIR]      (default ./runs; the same folder as reproduce-student.sh shares its teacher)
# The data and the models are read from ../shared beside the clone, or from $BLOCKBUSTER_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stages.sh "${1:-./runs}" data/imdb.csv data/imdb_unsup.csv models/all-MiniLM-L6-v2/config.json models/bert-tiny/config.json

minilm="$shared/models/all-MiniLM-L6-v2"
# Pretraining reads the unlabelled reviews and the teacher's 40,000 training reviews (its split.json), nothing else.
texts=(--data "$shared/data/imdb_unsup.csv" --train-split "$runs/teacher-card/split.json")

stage teacher-card train "$runs/teacher-card" --data "$shared/data/imdb.csv" --model "$minilm" --max-length 256 --epochs 1 \
  --lr 1e-3 --warmup-ratio 0.1 --lora-targets query,key,value,dense
stage base-gd pretrain "$runs/base-gd" "${texts[@]}" --model "$shared/models/bert-tiny" --from-scratch --teacher "$minilm" \
  --max-length 128 --batch-size 128 --epochs 1 --limit 60000 --lr 1e-3 --save-steps 300
stage base-512 pretrain "$runs/base-512" "${texts[@]}" --model "$runs/base-gd" --teacher "$minilm" \
  --max-length 512 --batch-size 32 --epochs 1 --limit 15000 --lr 5e-4 --held-out-blocks 200 --save-steps 100
stage base-ts pretrain "$runs/base-ts" "${texts[@]}" --model "$runs/base-512" --teacher "$runs/teacher-card" --teacher-weight 5 \
  --max-length 256 --batch-size 64 --epochs 1 --limit 50000 --lr 5e-4 --held-out-blocks 200 --save-steps 100
stage base-ts2 pretrain "$runs/base-ts2" "${texts[@]}" --model "$runs/base-ts" --teacher "$runs/teacher-card" --teacher-weight 5 \
  --max-length 256 --batch-size 64 --epochs 1 --limit 50000 --seed 43 --lr 3e-4 --held-out-blocks 200 --save-steps 100
stage recipe train "$runs/recipe" --data "$shared/data/imdb.csv" --model "$runs/base-ts2"
stage recipe-nf4 train "$runs/recipe-nf4" --data "$shared/data/imdb.csv" --model "$runs/base-ts2" --quantize nf4
score "teacher (card, held-out 10,000)" "$runs/teacher-card"
score "original recipe on base-ts2 (held-out 10,000)" "$runs/recipe"
reported "original recipe on base-ts2, nf4 (held-out 10,000)" "$runs/recipe-nf4"
