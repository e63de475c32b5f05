#!/usr/bin/env bash
# Runs each libFuzzer target of build-fuzz for a bounded time, one after the
# other, and prints executions, exec/s and findings per target.
#   tests/fuzz/run_fuzz.sh <build-dir> [target...]      (default: every target)
# Environment:
#   FUZZ_SECONDS      seconds per target (default 60)
#   FUZZ_RSS_MB       -rss_limit_mb (default 2048); an input over it is a finding
#   FUZZ_TIMEOUT      -timeout in seconds for one input (default 10)
#   FUZZ_KEEP_GOING=1 fork mode that goes on after a finding (long runs that
#                     collect every distinct crash); the default stops at the first
# The seeds are copied into <build-dir>/corpus/<target> (the working corpus,
# kept between runs); findings go to <build-dir>/findings/<target>/.
# Exit status: 0 when no target found anything, 1 otherwise.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run_fuzz.sh <build-dir> [target...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(safetensors pickle torch_zip config tokenizer export_record multipart v2_request properties archive openai_generate jinja gguf audio); fi
seconds="${FUZZ_SECONDS:-60}"
rss="${FUZZ_RSS_MB:-2048}"
timeout="${FUZZ_TIMEOUT:-10}"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$here/lsan_suppressions.txt:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

declare -A dicts=([config]=json.dict [tokenizer]=json.dict [safetensors]=json.dict [export_record]=json.dict [multipart]=json.dict [v2_request]=json.dict [openai_generate]=json.dict)
summary=()
status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "no fuzz target $bin" >&2; exit 2; fi
  work="$build/corpus/$t"
  findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  args=(-max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" -timeout="$timeout"
        -print_final_stats=1 -artifact_prefix="$findings/" "$work" "$here/corpus/$t")
  if [ -d "$here/regressions/$t" ]; then args+=("$here/regressions/$t"); fi
  if [ -n "${dicts[$t]:-}" ]; then args=(-dict="$here/${dicts[$t]}" "${args[@]}"); fi
  if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    args=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 "${args[@]}")
  fi
  log="$build/fuzz_$t.log"
  echo "== fuzz_$t: ${seconds}s (log: $log)"
  before=$(find "$findings" -type f | wc -l)
  start=$(date +%s)
  "$bin" "${args[@]}" > "$log" 2>&1
  rc=$?
  wall=$(( $(date +%s) - start ))
  found=$(( $(find "$findings" -type f | wc -l) - before ))
  # Plain mode prints stat::number_of_executed_units; fork mode "#N: ... exec/s" lines.
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  if [ "$execs" = 0 ]; then
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    execs=${execs:-0}
  fi
  rate=$(( wall > 0 ? execs / wall : execs ))
  if [ $rc -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|terminate called|what\(\)' "$log" | sort | uniq -c | head -20
  fi
  summary+=("$(printf '%-12s %12s execs %8s exec/s %6ss wall  %s new finding(s)  rc=%s' "$t" "$execs" "$rate" "$wall" "$found" "$rc")")
done
echo "== summary (findings in $build/findings/<target>/)"
printf '%s\n' "${summary[@]}"
exit $status
