# Shared by the reproduce-*.sh scripts, sourced from the repository root: `source scripts/stages.sh RUNS_DIR FILES...`
# checks that each FILE is in the shared folder (../shared beside the clone, or $BLOCKBUSTER_SHARED), creates RUNS_DIR,
# builds the CLI and sets $runs, $shared and $bb. A stage then runs one blockbuster command into its own folder,
# prints its wall time and peak memory, is skipped once finished and continues with --resume when interrupted.
runs=$(realpath -m "$1"); shift
shared=$(realpath -m "${BLOCKBUSTER_SHARED:-../shared}")
for f in "$@"; do
  [ -e "$shared/$f" ] || { echo "$(basename "$0"): $shared/$f not found; set BLOCKBUSTER_SHARED to the shared folder." >&2; exit 2; }
done
mkdir -p "$runs"
dotnet build -c Release src/Blockbuster.Cli --nologo -v quiet
bb="$PWD/src/Blockbuster.Cli/bin/Release/net10.0/blockbuster"

peak="$runs/.peak-kb"
# measured CMD...: runs CMD under GNU time when it is installed, so a stage can report its peak resident memory.
measured() {
  if [ -x /usr/bin/time ]; then /usr/bin/time -q -f %M -o "$peak" "$@"; else rm -f "$peak"; "$@"; fi
}
peak_text() { if [ -s "$peak" ]; then echo ", peak RSS $(( $(tail -n 1 "$peak") / 1024 )) MB"; fi; }

# finished OUTPUT: train/distill wrote OUTPUT/metrics.json (at the end only); pretrain, whose metrics are rewritten at
# every save, checkpointed the start of the epoch after its last (trainer_state.json "epoch" = pretrain_args "epochs").
finished() {
  [ -f "$1/metrics.json" ] && return 0
  local state="$1/checkpoint/trainer_state.json" args="$1/pretrain_args.json"
  [ -f "$state" ] && [ -f "$args" ] &&
    [ "$(grep -oE '"epoch": *[0-9]+' "$state" | grep -oE '[0-9]+$')" = "$(grep -oE '"epochs": *[0-9]+' "$args" | grep -oE '[0-9]+$')" ]
}

# stage NAME COMMAND OUTPUT ARGS...: runs `blockbuster COMMAND ARGS --output OUTPUT` unless finished; resumes if interrupted.
stage() {
  local name=$1 command=$2 output=$3; shift 3
  if finished "$output"; then echo "== $name: done earlier ($output)"; return; fi
  local start=$SECONDS
  if [ -f "$output/checkpoint/trainer_state.json" ]; then
    echo "== $name: resuming $output"
    measured "$bb" "$command" --output "$output" --resume
  else
    echo "== $name: blockbuster $command $* --output $output"
    measured "$bb" "$command" "$@" --output "$output" --overwrite
  fi
  echo "== $name: $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s$(peak_text)"
}
# average NAME OUTPUT MODELS: `blockbuster average --model MODELS --output OUTPUT` unless done (it writes OUTPUT whole or not at all).
average() {
  if [ -f "$2/model.safetensors" ]; then echo "== $1: done earlier ($2)"; return; fi
  echo "== $1: blockbuster average --model $3 --output $2"
  "$bb" average --model "$3" --output "$2" --overwrite
}
score() {
  local name=$1 model=$2; shift 2
  echo "== score $name: $("$bb" eval --model "$model" "$@" --json | grep -oE '"(accuracy|precision|recall|f1)": ?[0-9.]+' | tr '\n' ' ')"
}
# reported NAME MODEL: the held-out figures the training run itself wrote (MODEL/metrics.json), for a model that eval
# would load otherwise than it was trained (a QLoRA adapter over its 4-bit base).
reported() {
  echo "== $1 (as trained): $(grep -oE '"(accuracy|precision|recall|f1)": ?[0-9.]+' "$2/metrics.json" | tr '\n' ' ')"
}
