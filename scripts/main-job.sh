#!/usr/bin/env bash
# The main job from a fresh clone, in one command: packs the `blockbuster` .NET tool, installs it into ./.tools,
# then trains on the full IMDB CSV, evaluates the held-out 10,000 reviews and classifies a sentence.
#   scripts/main-job.sh                      # ../shared/data/imdb.csv, from scratch (no pretrained weights offline)
#   scripts/main-job.sh --data imdb.csv --model prajjwal1/bert-tiny     # any train options; on a connected machine
# Extra arguments replace the default train options.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
packages="$PWD/artifacts/packages"
version="0.3.0-local.$(date -u +%Y%m%d%H%M%S)"

echo "== pack and install the tool ($version) into $tools"
dotnet pack src/Blockbuster.Cli -c Release -o "$packages" -p:Version="$version" --nologo -v quiet
dotnet tool uninstall --tool-path "$tools" Blockbuster.Cli >/dev/null 2>&1 || true
dotnet tool install --tool-path "$tools" --add-source "$packages" Blockbuster.Cli --version "$version"
export PATH="$tools:$PATH"

if [ $# -eq 0 ]; then
  set -- --data ../shared/data/imdb.csv --from-scratch --full-finetune
fi
echo "== blockbuster train $*"
blockbuster train "$@" --output ./blockbuster-model --overwrite
echo "== blockbuster eval"
blockbuster eval --model ./blockbuster-model
echo "== blockbuster predict"
blockbuster predict --model ./blockbuster-model "I absolutely loved this movie. The characters were so well-developed!"
echo "The tool stays installed: export PATH=\"$tools:\$PATH\""
