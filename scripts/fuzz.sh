#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The libFuzzer targets of fuzz/ (docs/reliability.md):
#   scripts/fuzz.sh ci [SECONDS]      build them (build-fuzz, clang-14), write the seed corpora,
#                                     replay every seed and every fuzz/findings/TARGET-* input,
#                                     then fuzz each target SECONDS (20)
#   scripts/fuzz.sh long TARGET RUNS  fuzz one target for RUNS executions, keeping its corpus in
#                                     build-fuzz/fuzz/corpus/TARGET and its log in
#                                     build-fuzz/fuzz/logs/TARGET.log
#   scripts/fuzz.sh table             one Markdown row per long-run log: executions, exec/s,
#                                     edges (libFuzzer's cov:), corpus, peak RSS, outcome
# Any crash, leak, timeout (-timeout, 10 s) or memory blow-up (-rss_limit_mb, 2560) ends the
# run with a non-zero status and leaves the input under build-fuzz/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FCN_FUZZ_BUILD:-build-fuzz}
TARGETS=(prototxt caffemodel solverstate lmdb_record image hdf5)
FUZZ_FLAGS=(-timeout=10 -rss_limit_mb=2560 -max_len=16384 -print_final_stats=1 -print_funcs=0)

build() {
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFCN_FUZZ=ON -DFCN_BUILD_TESTS=OFF -DFCN_USE_DNNL=OFF -DPython3_EXECUTABLE=/usr/bin/python3
  fi
  cmake --build "$BUILD" -j "$(nproc)" --target "${TARGETS[@]/#/fuzz_}" fcn_fuzz_seeds fcn_hdf5_check
  cmake --build "$BUILD" --target fuzz_seeds
}

# run TARGET LOG ARGS...: one libFuzzer run over the target's corpus (seeded from the seeds).
run() {
  local t=$1 log=$2
  shift 2
  local dir="$BUILD/fuzz"
  mkdir -p "$dir/corpus/$t" "$dir/artifacts" "$dir/logs"
  cp -n "$dir/seeds/$t/"* "$dir/corpus/$t/" 2>/dev/null || true
  "$dir/fuzz_$t" "${FUZZ_FLAGS[@]}" -dict="fuzz/$t.dict" -artifact_prefix="$dir/artifacts/$t-" \
    "$@" "$dir/corpus/$t" > "$log" 2>&1
}

case "${1:-}" in
  ci)
    seconds=${2:-20}
    start=$(date +%s)
    build
    echo "fuzz: build and seeds in $(( $(date +%s) - start )) s"
    failed=0
    for t in "${TARGETS[@]}"; do
      log="$BUILD/fuzz/logs/$t.ci.log"
      mkdir -p "$BUILD/fuzz/logs"
      # Replay: every seed, once (no mutation).
      if ! "$BUILD/fuzz/fuzz_$t" "${FUZZ_FLAGS[@]}" -runs=0 "$BUILD/fuzz/seeds/$t" > "$log.replay" 2>&1; then
        echo "fuzz_$t: replaying the seeds failed:"; tail -40 "$log.replay"; failed=1; continue
      fi
      # Replay: every fixed finding of this target (fuzz/findings/<target>-<kind>-<sha1>).
      findings=(fuzz/findings/"$t"-*)
      if [ -e "${findings[0]}" ] && ! "$BUILD/fuzz/fuzz_$t" "${FUZZ_FLAGS[@]}" "${findings[@]}" \
          > "$log.findings" 2>&1; then
        echo "fuzz_$t: replaying fuzz/findings failed:"; tail -40 "$log.findings"; failed=1; continue
      fi
      if run "$t" "$log" -max_total_time="$seconds"; then
        echo "fuzz_$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
      else
        echo "fuzz_$t: FAILED"; tail -60 "$log"; failed=1
      fi
    done
    echo "fuzz: done in $(( $(date +%s) - start )) s"
    exit $failed
    ;;
  long)
    t=${2:?target}; runs=${3:?executions}
    shift 3
    [ -x "$BUILD/fuzz/fuzz_$t" ] || build
    run "$t" "$BUILD/fuzz/logs/$t.log" -runs="$runs" "$@"
    ;;
  table)
    echo "| target | executions | exec/s | edges (cov) | corpus | peak RSS | outcome |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    for t in "${TARGETS[@]}"; do
      log="$BUILD/fuzz/logs/$t.log"
      [ -f "$log" ] || continue
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
      rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
      rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
      last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
      cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<< "$last")
      corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$last")
      if grep -q 'DONE' <<< "$last"; then outcome="DONE, no finding"
      elif grep -q 'run interrupted' "$log"; then outcome="interrupted (SIGINT), no finding"
      elif grep -qE 'ERROR: |Test unit written to .*-(crash|leak|timeout|oom)-' "$log"; then outcome="finding: $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|deadly signal|timeout' "$log" || true)"
      else outcome="running or stopped at ${last%%[[:space:]]*}"; fi
      echo "| fuzz_$t | ${runs:-${last%%[[:space:]]*}} | ${rate:--} | ${cov:--} | ${corp:--} | ${rss:+$rss MB} | $outcome |"
    done
    ;;
  *)
    sed -n '3,13p' "$0"; exit 2 ;;
esac
