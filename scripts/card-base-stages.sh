# Shared by reproduce-recipe-base.sh and reproduce-student.sh, sourced after scripts/stages.sh and the teacher-card
# stage: the card's task-specific bert-tiny base, in four pretraining phases. They read the unlabelled reviews and the
# teacher's 40,000 training reviews (its split.json), nothing else of imdb.csv.
#   base-gd    masked LM + general distillation from all-MiniLM-L6-v2, from random weights, 128-token blocks
#   base-512   a last general phase at 512 tokens (the recipe reads 512)
#   base-ts    masked LM + task-specific distillation from teacher-card: hidden states, and its predictions taught
#              to a pooler the base keeps (256-token blocks, 50,000 texts)
#   base-ts2   a second such phase on another 50,000 texts drawn with another seed, the pooler continued
minilm="$shared/models/all-MiniLM-L6-v2"
texts=(--data "$shared/data/imdb_unsup.csv" --train-split "$runs/teacher-card/split.json")
stage base-gd pretrain "$runs/base-gd" "${texts[@]}" --model "$shared/models/bert-tiny" --from-scratch --teacher "$minilm" \
  --max-length 128 --batch-size 128 --epochs 1 --limit 60000 --lr 1e-3 --save-steps 300
stage base-512 pretrain "$runs/base-512" "${texts[@]}" --model "$runs/base-gd" --teacher "$minilm" \
  --max-length 512 --batch-size 32 --epochs 1 --limit 15000 --lr 5e-4 --held-out-blocks 200 --save-steps 100
stage base-ts pretrain "$runs/base-ts" "${texts[@]}" --model "$runs/base-512" --teacher "$runs/teacher-card" --teacher-weight 5 \
  --max-length 256 --batch-size 64 --epochs 1 --limit 50000 --lr 5e-4 --held-out-blocks 200 --save-steps 100
stage base-ts2 pretrain "$runs/base-ts2" "${texts[@]}" --model "$runs/base-ts" --teacher "$runs/teacher-card" --teacher-weight 5 \
  --max-length 256 --batch-size 64 --epochs 1 --limit 50000 --seed 43 --lr 3e-4 --held-out-blocks 200 --save-steps 100
