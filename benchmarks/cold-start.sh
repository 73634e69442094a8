#!/usr/bin/env bash
# Cold start of the installed tool against the floor: a bare TorchSharp program that runs one tensor op
# (benchmarks/BareTorch), paired run by run (A B A B ...) so the ratio survives the VM's drifting speed.
#   benchmarks/cold-start.sh MODEL [RUNS]     MODEL: a trained folder (e.g. ./blockbuster-model); RUNS default 11
# Packs and installs the tool (ReadyToRun, linux-x64) into a temporary tool path, as a user gets it.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath "${1:?usage: benchmarks/cold-start.sh MODEL [RUNS]}")
runs=${2:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version="0.3.0-bench.$(date -u +%Y%m%d%H%M%S)"
dotnet pack src/Blockbuster.Cli -c Release -o "$work/packages" -p:Version="$version" --nologo -v quiet
dotnet tool install --tool-path "$work/tools" --add-source "$work/packages" Blockbuster.Cli --version "$version" >/dev/null
dotnet build benchmarks/BareTorch -c Release --nologo -v quiet >/dev/null
bare=benchmarks/BareTorch/bin/Release/net10.0/BareTorch
tool="$work/tools/blockbuster"
text="I absolutely loved this movie. The characters were so well-developed!"
now() { date +%s.%N; }
"$tool" predict --model "$model" "$text" >/dev/null; "$bare" >/dev/null   # file cache warm for both
: > "$work/pairs"
for i in $(seq "$runs"); do
  t0=$(now); "$tool" predict --model "$model" "$text" >/dev/null; t1=$(now)
  "$bare" >/dev/null; t2=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc)" >> "$work/pairs"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(cut -d' ' -f1 "$work/pairs" | median); b=$(cut -d' ' -f2 "$work/pairs" | median)
r=$(awk '{printf "%.4f\n", $1/$2}' "$work/pairs" | median)
printf 'cold blockbuster predict (installed tool): median %.3f s\nbare TorchSharp, one op:                    median %.3f s\nratio, median of %d pairs:                  %.2fx\n' "$a" "$b" "$runs" "$r"
