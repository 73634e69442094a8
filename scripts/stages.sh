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

# stage NAME COMMAND OUTPUT ARGS...: runs `blockbuster COMMAND ARGS --output OUTPUT` unless finished; resumes if interrupted.
# train/distill are finished when OUTPUT/metrics.json exists; pretrain (whose metrics are rewritten at every save) when
# this script marked it so ($runs/.done/NAME).
stage() {
  local name=$1 command=$2 output=$3; shift 3
  if [ -f "$output/metrics.json" ] || [ -f "$runs/.done/$name" ]; then echo "== $name: done earlier ($output)"; return; fi
  local start=$SECONDS
  if [ -f "$output/checkpoint/trainer_state.json" ]; then
    echo "== $name: resuming $output"
    measured "$bb" "$command" --output "$output" --resume
  else
    echo "== $name: blockbuster $command $* --output $output"
    measured "$bb" "$command" "$@" --output "$output" --overwrite
  fi
  mkdir -p "$runs/.done" && touch "$runs/.done/$name"
  echo "== $name: $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s$(peak_text)"
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
