#!/usr/bin/env bash
# Reproduces #15's first target end to end (README "The original recipe on a base made here"): a bert-tiny base
# pretrained and distilled here, then the original recipe on it (`blockbuster train --model <base>`, every option at
# its default: LoRA r 8 on query/value, lr 3e-5, 3 epochs, batch 16 x 2, length 512), and the same with --quantize nf4,
# scored on the seed-42 held-out 10,000 of imdb.csv, which no stage trains on, labelled or not.
#   teacher-card  all-MiniLM-L6-v2 + LoRA on the 40,000 training reviews (shared with reproduce-student.sh)
#   base-gd, base-512, base-ts, base-ts2   the base, in four pretraining phases (scripts/card-base-stages.sh)
#   recipe, recipe-nf4   on base-ts2
# Stages print wall time, peak memory and metrics; a finished stage is skipped, an interrupted one resumes. About three
# hours on 2 cores; run it in the background and again after a stop.
#   scripts/reproduce-recipe-base.sh [RUNS_DIR]      (default ./runs; the same folder as reproduce-student.sh shares its teacher)
# The data and the models are read from ../shared beside the clone, or from $BLOCKBUSTER_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stages.sh "${1:-./runs}" data/imdb.csv data/imdb_unsup.csv models/all-MiniLM-L6-v2/config.json models/bert-tiny/config.json

minilm="$shared/models/all-MiniLM-L6-v2"
stage teacher-card train "$runs/teacher-card" --data "$shared/data/imdb.csv" --model "$minilm" --max-length 256 --epochs 1 \
  --lr 1e-3 --warmup-ratio 0.1 --lora-targets query,key,value,dense
source scripts/card-base-stages.sh
stage recipe train "$runs/recipe" --data "$shared/data/imdb.csv" --model "$runs/base-ts2"
stage recipe-nf4 train "$runs/recipe-nf4" --data "$shared/data/imdb.csv" --model "$runs/base-ts2" --quantize nf4
score "teacher (card, held-out 10,000)" "$runs/teacher-card"
score "original recipe on base-ts2 (held-out 10,000)" "$runs/recipe"
reported "original recipe on base-ts2, nf4 (held-out 10,000)" "$runs/recipe-nf4"
