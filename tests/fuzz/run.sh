#!/usr/bin/env bash
# Build the libFuzzer harnesses (clang, ASan + UBSan) and run each one for SECONDS (default 10)
# in turn, on a scratch copy of its seed corpus (tests/fuzz/corpus/<name>); crashes land in
# build-fuzz/fuzz-artifacts/. Prints one line per target: executions, seconds, crashes.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      e.g. tests/fuzz/run.sh 600 job plan
set -uo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(job availability plan nodes offerings nvsmi measured whatif_trace whatif_scenarios serve_trace)
bd=build-fuzz
if [ ! -f "$bd/build.ninja" ]; then
  CC=clang meson setup "$bd" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dtests=false \
    -Dbench=false -Dwerror=false --buildtype=debugoptimized >/dev/null || exit 1
fi
ninja -C "$bd" -j2 >/dev/null || { ninja -C "$bd" -j1 | tail -20; exit 1; }
mkdir -p "$bd/fuzz-artifacts"
status=0
printf '%-18s %12s %8s %8s\n' target execs seconds crashes
for t in "${targets[@]}"; do
  work="$bd/fuzz-corpus/$t"
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
  log="$bd/fuzz-$t.log"
  start=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bd/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$bd/fuzz-artifacts/$t-" "$work" >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  crashes=0
  if [ $rc -ne 0 ]; then
    crashes=1
    status=1
    echo "fuzz_$t failed (exit $rc); log: $log" >&2
    grep -m5 -E 'ERROR|contract violated|SUMMARY' "$log" >&2
  fi
  printf '%-18s %12s %8s %8s\n' "$t" "${execs:-?}" "$((end - start))" "$crashes"
done
exit $status
