#!/usr/bin/env bash
# Run one libFuzzer harness for FUZZ_SECONDS (default 60) on its seed
# corpus (tests/fuzz/corpus/NAME, read only) plus a working corpus under
# build/fuzz/work/NAME that grows between runs. A crash leaves its input as
# build/fuzz/crash-NAME-*; copy it into tests/fuzz/corpus/NAME when fixed.
# Prints one line: the harness, seconds, execs, execs/s, and the result.
#   bash tests/fuzz/run.sh evalfile|dataset|template|provider
set -u
cd "$(dirname "$0")/../.." && top=$PWD
h=$1
secs=${FUZZ_SECONDS:-60}
bin=build/fuzz/fuzz_$h
work=$top/build/fuzz/work/$h
[ -x "$bin" ] || { echo "fuzz: $bin missing (make $bin)" >&2; exit 2; }
mkdir -p "$work"
log=build/fuzz/$h.log
# -timeout: an input taking 10 s is a hang; -rss_limit_mb: memory is a finding
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-print_final_stats=1 -artifact_prefix="$top/build/fuzz/crash-$h-" \
	"$work" "$top/tests/fuzz/corpus/$h" >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
[ -n "$took" ] || took=$secs
echo "fuzz $h: ${runs:-0} execs in ${took}s ($(( ${runs:-0} / (took > 0 ? took : 1) ))/s), $( [ $rc = 0 ] && echo clean || echo "FAILED (exit $rc), see $log")"
[ $rc = 0 ] || grep -m 5 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" >&2
exit $rc
