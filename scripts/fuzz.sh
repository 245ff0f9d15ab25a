#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz) for the readers of untrusted input: the YAML job config + --set
# overrides, safetensors, token shards, trainer_state.json, profile JSON. Builds them in build-fuzz
# (preset fuzz: clang-14, -fsanitize=fuzzer,address,undefined) and runs each one.
#   scripts/fuzz.sh [TARGET...]         CI mode: each target for a fixed number of executions
#                                       (MART_FUZZ_RUNS, default 20000) from its seed corpus, with
#                                       a fixed -seed, so a run is reproducible.
#   scripts/fuzz.sh --long [SECONDS] [TARGET...]
#                                       local mode: each target for SECONDS (default 600), keeping
#                                       what it learns in build-fuzz/fuzz-corpus/<target>.
# Every run has -timeout (a hang), -rss_limit_mb (runaway memory) and -max_len. A finding (an
# exception other than mart::Error, a crash, a hang, a leak, a sanitizer report) stops that target;
# the script goes on with the others, then exits 1 naming each target that found something, with
# its reproducer under build-fuzz/fuzz-findings/<target>/. Reproduce one with
#   build-fuzz/tests/fuzz/mart_fuzz_<target> FILE
# and, once fixed, copy FILE to tests/fuzz/regressions/<target>/ (CTest replays it in every build).
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(yaml_config safetensors token_shard trainer_state profile_json tokenizer_json)
mode=ci
long_s=600
if [ "${1:-}" = "--long" ]; then
  mode=long
  shift
  if [[ "${1:-}" =~ ^[0-9]+$ ]]; then long_s=$1; shift; fi
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done

build=build-fuzz
cmake --preset fuzz >/dev/null
# Only the fuzz binaries (and the libraries they link): the other test binaries of build-fuzz are
# built by whoever needs them (scripts/test-reliability.sh's ASan subset).
cmake --build --preset fuzz -j "${MART_JOBS:-$(nproc)}" --target "${targets[@]/#/mart_fuzz_}"

runs="${MART_FUZZ_RUNS:-20000}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
common=(-seed=1 -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1)
failed=()
for t in "${targets[@]}"; do
  findings="$build/fuzz-findings/$t"
  rm -rf "$findings"
  mkdir -p "$findings"
  if [ "$mode" = ci ]; then
    work="$build/fuzz-work/$t"  # fresh each time: the same inputs, seed and runs give the same run
    rm -rf "$work"
    limit=(-runs="$runs")
  else
    work="$build/fuzz-corpus/$t"  # kept between long runs
    limit=(-max_total_time="$long_s")
  fi
  mkdir -p "$work"
  dirs=("$work" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  echo "fuzz.sh: $t (${limit[*]})"
  start=$(date +%s)
  if "$build/tests/fuzz/mart_fuzz_$t" "${common[@]}" "${limit[@]}" \
      -artifact_prefix="$findings/" "${dirs[@]}" >"$findings/log.txt" 2>&1; then
    echo "fuzz.sh: $t: no finding ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$findings/log.txt" | grep -o '[0-9]*$') executions, $(( $(date +%s) - start )) s)"
  else
    failed+=("$t")
    echo "fuzz.sh: $t: FINDING -- log and reproducer in $findings/:" >&2
    grep -E 'FUZZ FINDING|==[0-9]+== ?ERROR|^SUMMARY|runtime error|Test unit written|^artifact_prefix' "$findings/log.txt" | head -20 >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, no finding"
