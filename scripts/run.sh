#!/usr/bin/env bash
# The main job: build, then `mart train` on its built-in default (a ~3M-parameter Llama on a
# synthetic Markov corpus; about a minute on 2 CPU cores). Extra arguments go to `mart train`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh default
exec ./build/mart train "$@"
