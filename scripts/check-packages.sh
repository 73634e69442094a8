#!/usr/bin/env bash
# Proves the packages work outside the solution (CI runs this after the tests):
#   1. packs the .NET tool (linux-x64) and the libraries (Blockbuster.Model, .Training, .Serving) under a unique
#      version, so no NuGet cache can hand back an older build;
#   2. installs the tool into a temporary --tool-path, trains a small model from scratch with it (the default
#      model's config and vocabulary ship inside the tool) and runs `blockbuster predict` on it;
#   3. runs samples/Blockbuster.Sample, which references the *packed* Blockbuster.Training package.
# Usage: scripts/check-packages.sh   (from anywhere; reads ../shared/data/imdb.csv beside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
version="0.3.0-ci.$(date -u +%Y%m%d%H%M%S)"
packages="$repo/artifacts/packages"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$packages"
data="$repo/../shared/data/imdb.csv"

step() { echo "== $* ($(date -u +%T))"; }

step "pack $version"
for project in src/Blockbuster.Model src/Blockbuster.Training src/Blockbuster.Serving src/Blockbuster.Cli; do
  dotnet pack "$project" -c Release -o "$packages" -p:Version="$version" --nologo -v quiet
done
ls -la "$packages"/*"$version"*.nupkg

step "install the tool into a temporary tool path"
dotnet tool install --tool-path "$work/tools" --add-source "$packages" Blockbuster.Cli --version "$version"
"$work/tools/blockbuster" --version

step "train with the installed tool (from scratch, offline: the default config and vocabulary are embedded)"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$work/hub" "$work/tools/blockbuster" train --data "$data" --from-scratch --full-finetune \
  --limit 400 --epochs 1 --max-length 64 --output "$work/model"
step "predict with the installed tool"
"$work/tools/blockbuster" predict --model "$work/model" "A wonderful film: superb acting and a story that kept me hooked."

step "sample app on the packed packages"
dotnet run --project samples/Blockbuster.Sample -c Release -p:BlockbusterVersion="$version" -- "$work/sample-model" "$data"

# Packages of this run only; older CI versions are cleared so artifacts/ does not grow.
find "$packages" -name '*.nupkg' ! -name "*$version*" -delete
step "packages OK"
