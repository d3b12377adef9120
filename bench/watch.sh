#!/usr/bin/env bash
# bench/watch.sh: in watch mode, how long from saving a file to the affected
# cell's agent starting, as the project grows?
#
# Usage:  bash bench/watch.sh [N...]          (default sizes: 1000 10000 100000)
# Environment:
#   EVALMAKE=path   the binary to measure (default: the repo's ./evalmake; it is
#                   copied into the temp folder first, so a rebuild happening
#                   meanwhile does not change what is measured)
#   REPS=5          saves measured per N (min and median)
#   JOBS=8          -j for the run that fills the cache
#   KEEP=1          keep the generated projects (the script prints where)
#   TMPDIR          where the temp folder goes (default /tmp)
#
# For each N it generates one project with N cells: one suite, N task files
# tasks/tNNNNNN.json ({"input": ..., "expected": ...}) in one folder, 1
# iteration, a command agent (`. ./agent.sh`: the script is sourced by the
# `sh -c` evalmake starts, one process fewer per cell), the exact grader. One plain `evalmake` run fills
# the cache (its time is printed: minutes at 100,000, one process per cell).
# The agent's FIRST action, when BENCH_STARTS names a file, appends
# `date +%s.%N` to it (a file outside the project); then it echoes its
# input. The run that fills the cache leaves BENCH_STARTS unset, watch
# sets it: an environment variable the Evalfile does not declare is in no
# key (the agent script is: it may not change), so watch starts with every
# cell cached, and the first report line says so (checked).
#
# Then `evalmake watch --jsonl` starts (time to its first line: "start"), and
# REPS times, one task file, a different one each time, gets new content
# with a plain write (open, write, close: the close-after-write event). The
# save's time is taken right after the write returns. Per save:
#   save->agent   the agent's start timestamp minus the save's: the latency
#                 the issue asks about, raw. It includes watch's quiet period
#                 (fswatch.h: QUIET_PERIOD, 50 ms), rehashing the saved task,
#                 spawning `sh -c` and `date`: it cannot go below ~55 ms.
#   save->report  until the --jsonl line of that update is complete (the
#                 agent has finished, the cell is graded, stored, reported).
#                 The report is a JSON line over all N cells, so this one is
#                 expected to grow with N; it is here so that growth is seen.
# Each save is checked: exactly one new agent call, one new report line
# whose trigger is the saved file and which ran exactly 1 cell.
# "ratio" is median save->agent against the first N (1000 by default); the
# issue requires it to stay within 2x as N grows. RSS is the watcher's
# resident memory after the saves (VmRSS), "peak" its VmHWM.
#
# Every wait is a bounded polling loop; every process started is stopped by
# its pid; the temp folder is removed unless KEEP=1.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
EVALMAKE=${EVALMAKE:-$repo/evalmake}
REPS=${REPS:-5}
JOBS=${JOBS:-8}
KEEP=${KEEP:-0}
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000 10000 100000); fi

die() {
	echo "watch.sh: FAIL: $*" >&2
	exit 1
}

[ -x "$EVALMAKE" ] || die "no evalmake binary at $EVALMAKE (run make first)"
command -v jq >/dev/null || die "jq not found (apt-get install -y jq)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS=$REPS: want a positive integer"
for n in "${sizes[@]}"; do
	[[ $n =~ ^[1-9][0-9]{0,5}$ ]] || die "size '$n': want an integer from 1 to 999999"
	[ "$n" -ge "$REPS" ] || die "size $n: fewer tasks than REPS=$REPS saves"
done

top=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-benchwatch.XXXXXX")
cp "$EVALMAKE" "$top/evalmake"
em=$top/evalmake
wpid=""

cleanup() {
	local st=$?
	if [ -n "$wpid" ] && kill -0 "$wpid" 2>/dev/null; then
		kill -INT "$wpid" 2>/dev/null || true
		waitgone "$wpid" 10 || kill -9 "$wpid" 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ]; then
		echo "kept: $top" >&2
	else
		rm -rf "$top"
	fi
	exit $st
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# waitgone PID SECS: the process is gone within SECS
waitgone() {
	local end=$((EPOCHSECONDS + $2))
	while kill -0 "$1" 2>/dev/null; do
		[ "$EPOCHSECONDS" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# lines FILE: its complete lines (counted once, after the waits)
lines() {
	local n
	n=$(wc -l <"$1" 2>/dev/null) || n=0
	echo "${n:-0}"
}

# waitlines FILE N SECS: until FILE has N complete lines; 1 if it never did.
# For small files (the agents' start times).
waitlines() {
	local end=$((EPOCHSECONDS + $3))
	while [ "$(lines "$1")" -lt "$2" ]; do
		[ "$EPOCHSECONDS" -lt "$end" ] || return 1
		sleep 0.005
	done
}

# waitgrown FILE SIZE SECS: until FILE is longer than SIZE bytes and ends
# with a newline: a report line was completed. A report line of watch
# --jsonl covers all N cells (about 10 MB at 100,000), so counting lines
# while waiting would cost more than the watcher's own work: this looks at
# the size and the last byte only. (A JSON line holds no raw newline, and
# a flush in the middle of one never ends with one.)
waitgrown() {
	local end=$((EPOCHSECONDS + $3)) sz
	while :; do
		sz=$(stat -c %s "$1" 2>/dev/null) || sz=0
		# $(...) drops a trailing newline: empty means the last byte is
		# one; the size again: nothing was appended in between
		if [ "$sz" -gt "$2" ] && [ -z "$(tail -c 1 "$1")" ] && [ "$(stat -c %s "$1")" = "$sz" ]; then
			SIZE=$sz
			return 0
		fi
		[ "$EPOCHSECONDS" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# waitidle PID SECS FROM: until the process has used no CPU time for 0.3 s;
# IDLE = when it was last seen using some after FROM (a time in seconds),
# else FROM (CPU time counts in clock ticks: 10 ms). An update's work goes
# on after its report line (the cache's records, the stat cache): a save
# that arrives meanwhile waits, so each save is made on an idle watcher.
waitidle() {
	local f cpu last="" since=${3/./} now end=$((EPOCHSECONDS + $2))
	while :; do
		read -r -a f <"/proc/$1/stat" || return 1
		cpu=$((f[13] + f[14]))
		now=${EPOCHREALTIME/./}
		if [ -n "$last" ] && [ "$cpu" != "$last" ]; then
			since=$now
		fi
		last=$cpu
		if [ $((now - since)) -ge 300000 ]; then
			IDLE=${since:0:-6}.${since: -6}
			return 0
		fi
		[ "$EPOCHSECONDS" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# ms A B: (B - A) in milliseconds, A and B in seconds
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# min and median of the numbers on stdin: "MIN MEDIAN"
minmed() {
	sort -g | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s %.1f\n", v[1], m }'
}

# mkbench DIR N: the project
mkbench() {
	local d=$1 n=$2
	mkdir -p "$d/tasks"
	(cd "$d/tasks" && awk -v n="$n" 'BEGIN {
		for (i = 1; i <= n; i++) {
			f = sprintf("t%06d.json", i)
			printf "{\"input\": \"question %d\", \"expected\": \"question %d\"}\n", i, i > f
			close(f)
		}
	}')
	cat >"$d/Evalfile" <<EOF
jobs: $JOBS
defaults:
  iterations: 1
  timeout: 60
suites:
  s:
    tasks: tasks/*.json
    agent: {command: . ./agent.sh}
    grader: {type: exact}
EOF
	# the agent: its start time first when measuring, then an echo
	# (sourced by the `sh -c` evalmake runs: one process fewer per cell)
	printf '[ -z "$BENCH_STARTS" ] || date +%%s.%%N >>"$BENCH_STARTS"\nexec cat\n' >"$d/agent.sh"
}

results=()
base=""
echo "evalmake watch: save -> agent start, $REPS saves per N (ms)" >&2
for n in "${sizes[@]}"; do
	d=$top/n$n
	starts=$top/starts.$n
	out=$top/watch.$n.jsonl
	err=$top/watch.$n.err
	mkbench "$d" "$n"
	: >"$starts"

	t0=$EPOCHREALTIME
	(cd "$d" && "$em" -k -j "$JOBS" --json "$top/fill.$n.json" >"$top/fill.$n.out" 2>&1) ||
		die "N=$n: the run that fills the cache failed: $(tail -n 12 "$top/fill.$n.out")"
	t1=$EPOCHREALTIME
	fill=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "N=$n: cache filled in ${fill}s ($(awk -v s="$fill" -v n="$n" 'BEGIN { printf "%.2f", s * 1000 / n }') ms/cell)" >&2

	: >"$out"
	t0=$EPOCHREALTIME
	set -m # SIGINT at its default in the background job
	(cd "$d" && BENCH_STARTS=$starts exec "$em" watch --jsonl >"$out" 2>"$err") &
	wpid=$!
	set +m
	waitgrown "$out" 0 600 || die "N=$n: no first report line within 600 s: $(tail -n 3 "$err")"
	t1=$EPOCHREALTIME
	start=$(ms "$t0" "$t1")
	first=$(head -n 1 "$out" | jq -c '[.ran, .cached, .errors]')
	[ "$first" = "[0,$n,0]" ] || die "N=$n: first report [ran, cached, errors] is $first, expected [0,$n,0]"
	waitidle "$wpid" 600 "$t1" || die "N=$n: watch still busy 600 s after its first line"

	lat=() rep=() idl=()
	for ((k = 1; k <= REPS; k++)); do
		i=$(((k * 7919) % n + 1)) # spread over the folder, deterministic
		f=$(printf 'tasks/t%06d.json' "$i")
		printf '{"input": "question %d v%d", "expected": "question %d v%d"}\n' "$i" "$k" "$i" "$k" >"$d/$f"
		ts=$EPOCHREALTIME
		waitlines "$starts" "$k" 30 || die "N=$n: save $k of $f: the agent did not start within 30 s"
		waitgrown "$out" "$SIZE" 120 || die "N=$n: save $k of $f: no report line within 120 s"
		tr=$EPOCHREALTIME
		waitidle "$wpid" 120 "$tr" || die "N=$n: save $k: watch still busy 120 s after its report"
		[ "$(lines "$out")" = $((k + 1)) ] || die "N=$n: save $k: $(lines "$out") report lines, expected $((k + 1))"
		[ "$(lines "$starts")" = "$k" ] || die "N=$n: save $k ran $(($(lines "$starts") - k + 1)) agents, expected 1"
		line=$(sed -n "$((k + 1))p" "$out" | jq -c '[.ran, .errors, .trigger]')
		[ "$line" = "[1,0,[\"$f\"]]" ] || die "N=$n: save $k: update [ran, errors, trigger] is $line, expected [1,0,[\"$f\"]]"
		lat+=("$(ms "$ts" "$(sed -n "${k}p" "$starts")")")
		rep+=("$(ms "$ts" "$tr")")
		idl+=("$(ms "$ts" "$IDLE")")
	done
	rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$wpid/status")
	peak=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$wpid/status")

	kill -INT "$wpid"
	waitgone "$wpid" 30 || die "N=$n: watch did not exit within 30 s of SIGINT"
	st=0
	wait "$wpid" || st=$?
	wpid=""
	[ "$st" = 130 ] || die "N=$n: watch exited $st on SIGINT, expected 130"

	read -r lmin lmed < <(printf '%s\n' "${lat[@]}" | minmed)
	read -r rmin rmed < <(printf '%s\n' "${rep[@]}" | minmed)
	read -r imin imed < <(printf '%s\n' "${idl[@]}" | minmed)
	[ -n "$base" ] || base=$lmed
	ratio=$(awk -v a="$lmed" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
	echo "N=$n: save->agent ${lat[*]} ms; save->report ${rep[*]} ms; save->idle ${idl[*]} ms" >&2
	results+=("$n $fill $start $lmed $lmin $ratio $rmed $imed $rss $peak")
	[ "$KEEP" = 1 ] || rm -rf "$d"
done

echo
printf '%8s %9s %9s | %11s %8s %7s | %12s | %10s | %7s %7s\n' \
	"" "fill" "start" "save->agent" "" "" "save->report" "save->idle" "RSS" "peak"
printf '%8s %9s %9s | %11s %8s %7s | %12s | %10s | %7s %7s\n' \
	N s ms median min ratio median median MiB MiB
for r in "${results[@]}"; do
	# shellcheck disable=SC2086
	printf '%8s %9s %9s | %11s %8s %6sx | %12s | %10s | %7s %7s\n' $r
done
echo
echo "save->agent includes the 50 ms quiet period; ratio is against N=${sizes[0]} (the issue: within 2x)."
worst=$(printf '%s\n' "${results[@]}" | awk '{ if ($6 > w) w = $6 } END { printf "%.2f", w }')
if awk -v w="$worst" 'BEGIN { exit !(w <= 2) }'; then
	echo "flat: the largest ratio is ${worst}x"
else
	echo "NOT flat: the largest ratio is ${worst}x (> 2x)"
fi
