#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers of untrusted files. AFL++ drives fuzz/Blockbuster.Fuzz, in which SharpFuzz
# instruments the code that parses the files: Blockbuster.Model and Blockbuster.Training (safetensors header and
# tensors, config.json, adapter_config.json, vocab.txt, tokenizer_config.json, CSV rows), TorchSharp.PyBridge and
# Razorvine.Pickle (the .bin pickle) and CsvHelper.
#   scripts/fuzz.sh [SECONDS] [READER...]    SECONDS per reader (default 600); READERs default to all seven:
#                                            safetensors pytorch-bin config adapter-config vocab tokenizer-config csv
# Installs afl++ (Debian) and SharpFuzz.CommandLine (into .tools/) when missing. Not part of the tests.
# Findings go to artifacts/fuzz/READER/default/{crashes,hangs} (the exceptions in READER.exceptions.log); a crash, once fixed, is copied to
# tests/Blockbuster.Tests/FuzzRegressions/ as <file stem>-<hash>.<ext> and becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(safetensors pytorch-bin config adapter-config vocab tokenizer-config csv)

if ! command -v afl-fuzz >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq afl++ >/dev/null; else sudo apt-get install -y -qq afl++ >/dev/null; fi
fi
[ -x .tools/sharpfuzz ] || dotnet tool install --tool-path .tools SharpFuzz.CommandLine --version 2.3.0 >/dev/null

out=artifacts/fuzz
bin=$out/bin
rm -rf "$bin"
dotnet publish fuzz/Blockbuster.Fuzz -c Release -r linux-x64 --self-contained false -o "$bin" --nologo -v quiet
rm -rf "$out/seeds"
"$bin/blockbuster-fuzz" --seeds "$out/seeds"   # before instrumenting: instrumented code only runs under the fuzzer
for assembly in Blockbuster.Model Blockbuster.Training TorchSharp.PyBridge Razorvine.Pickle CsvHelper; do
  .tools/sharpfuzz "$bin/$assembly.dll" >/dev/null
done

# .NET is not an AFL-compiled binary, and this VM's CPU governor and core pattern are not AFL's to change.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
printf '%-17s %10s %8s %8s %8s %8s\n' reader seconds execs execs/s crashes hangs
for reader in "${readers[@]}"; do
  rm -rf "${out:?}/$reader" "$out/$reader.exceptions.log"
  # -t: the first input also pays for .NET start and (for tensors) LibTorch loading; SharpFuzz keeps one process after that.
  BLOCKBUSTER_FUZZ_LOG=$PWD/$out/$reader.exceptions.log afl-fuzz -i "$out/seeds/$reader" -o "$out/$reader" -V "$seconds" -t 20000 -m none -- "$bin/blockbuster-fuzz" "$reader" > "$out/$reader.log" 2>&1 || true
  stats=$out/$reader/default/fuzzer_stats
  if [ ! -f "$stats" ]; then echo "$reader: afl-fuzz did not start; see $out/$reader.log" >&2; continue; fi
  field() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
  printf '%-17s %10s %8s %8s %8s %8s\n' "$reader" "$(field run_time)" "$(field execs_done)" "$(field execs_per_sec)" "$(field saved_crashes)" "$(field saved_hangs)"
done
