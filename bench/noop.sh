#!/usr/bin/env bash
# bench/noop.sh: how much does evalmake cost when there is (almost) nothing to do?
#
# Usage:  bash bench/noop.sh [N...]          (default sizes: 1000 10000 100000)
# Environment:
#   EVALMAKE=path   the binary to measure (default: the repo's ./evalmake; it is
#                   copied into the temp folder first, so a rebuild happening
#                   meanwhile does not change what is measured)
#   REPS=5          timed repetitions of each measurement (min and median)
#   JOBS=8          -j for the populate runs (evalmake and ninja alike)
#   KEEP=1          keep the generated projects (the script prints where)
#   REUSE=DIR       measure the projects kept by an earlier KEEP=1 run in DIR
#                   (DIR/nN), populated already: another binary, without
#                   the minutes a populate of 100,000 cells takes
#   NINJA_BUILD_MAX=10000  largest N at which ninja really builds its N edges;
#                   above it ninja's built state is made without spawning N
#                   processes (see "ninja state" below)
#   TMPDIR          where the temp folder goes (default /tmp)
#
# For each N it generates one project with N cells: one suite, N task files
# tasks/tNNNNNN.json ({"input": ..., "expected": ...}), 1 iteration, a command
# agent (a shell one-liner: append a line to ./counter, echo stdin back), the
# exact grader. Beside the Evalfile it writes the same graph for ninja, the
# baseline: one rule `cp $in $out` and N edges
# "build out/tNNNNNN.txt: cp tasks/tNNNNNN.json": one input and one output per
# cell, the least a build tool can track.
#
# What it measures, per N (wall = elapsed time, cpu = user+sys of the tool and
# its children in the same run; min and median of REPS runs, in milliseconds):
#   no-op     everything up to date: `evalmake -s`, `evalmake -q`,
#             `evalmake status --json /dev/null`, and `ninja -C DIR`.
#             "vs ninja" = evalmake median / ninja median (1.0x: as fast).
#             The contract asks for well under a second at 100,000 cells.
#   floor     `evalmake --version`, `ninja --version`: starting the process,
#             nothing else. At small N both tools sit near this floor;
#             subtract it to see the work that grows with N.
#   1 edit    before each run one task file gets new content, never seen
#             before; then `evalmake -s` (must run exactly one cell) and ninja
#             (must rebuild exactly one edge) are timed. It should stay close
#             to the no-op: the cost of a change scales with what changed.
#   revert    the edited task is put back as it was, one run each: evalmake
#             finds that cell in its cache (content hashing, runs nothing),
#             ninja sees a new mtime and rebuilds the edge.
#   populate  the cold run that fills the cache, once: evalmake -j JOBS runs N
#             agents, ninja -j JOBS runs N cp. ms/cell is wall / N: per-cell
#             cost of the tool plus one process (`sh -c` for the agent; `sh -c`
#             then cp for ninja); process creation dominates both.
# Each no-op series has one untimed warm-up run first (it also lets evalmake
# record stat data of files that were too fresh to trust on the first run).
#
# ninja state above NINJA_BUILD_MAX: bench/ninjalog.py copies the outputs in
# one process and writes .ninja_log as ninja would have (output mtime and the
# MurmurHash64A of each command line). Wherever ninja builds for real the
# script checks ninja's own log against ninjalog.py's hashes, and before timing
# it checks `ninja -n` finds nothing to do: the no-op then does the same work
# as after a real build (stat 2N files, a log lookup per output). Only ninja's
# populate time is missing at those sizes (on a machine where a process costs
# ~5 ms, 100,000 cp would add ~10 minutes).
#
# Every run is checked and the script fails loudly if a check does not hold:
# exit status 0 (-q: 0 = up to date), the agent's counter stays put during
# no-op runs and grows by exactly 1 per edited run, all cells score 1, ninja
# says "no work to do" on a no-op and "[1/1]" after an edit.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
EVALMAKE=${EVALMAKE:-$repo/evalmake}
REPS=${REPS:-5}
JOBS=${JOBS:-8}
KEEP=${KEEP:-0}
RUNID=$(date +%s%N) # in edited tasks: never seen by an earlier run (REUSE)
NINJA_BUILD_MAX=${NINJA_BUILD_MAX:-10000}
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000 10000 100000); fi

die() { echo "noop.sh: FAIL: $*" >&2; exit 1; }

[ -x "$EVALMAKE" ] || die "no evalmake binary at $EVALMAKE (run make first)"
command -v ninja >/dev/null || die "ninja not found (apt-get install -y ninja-build)"
command -v python3 >/dev/null || die "python3 not found (bench/ninjalog.py needs it)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"
for n in "${sizes[@]}"; do
	[[ $n =~ ^[1-9][0-9]{0,5}$ ]] || die "size '$n': want an integer from 1 to 999999"
done
[[ $REPS =~ ^[1-9][0-9]?$ ]] || die "REPS must be from 1 to 99"
[[ $NINJA_BUILD_MAX =~ ^[0-9]+$ ]] || die "NINJA_BUILD_MAX must be an integer"

work=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-bench.XXXXXX")
if [ "$KEEP" = 1 ]; then
	trap 'echo "kept: $work"' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
cp "$EVALMAKE" "$work/evalmake"
em=$work/evalmake
ninjalog() { python3 "$here/ninjalog.py" "$@"; }

# ---- timing -----------------------------------------------------------------
# timed WANT LOG CMD...: run CMD once (stdout+stderr to LOG), die unless its
# exit status is WANT; sets WALL_MS (EPOCHREALTIME, a microsecond clock) and
# CPU_MS (user+sys of CMD and its children, from bash's `time`).
timed() {
	local want=$1 log=$2 rc t0 t1 u s
	shift 2
	local TIMEFORMAT='%3U %3S'
	{ time { t0=$EPOCHREALTIME; "$@" >"$log" 2>&1 && rc=0 || rc=$?; t1=$EPOCHREALTIME; }; } 2>"$work/time"
	[ "$rc" = "$want" ] || { cat "$log" >&2; die "exit status $rc, want $want: $*"; }
	read -r u s <"$work/time"
	WALL_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	CPU_MS=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.0f", (u + s) * 1000 }')
}

# series NAME CHECK PREP CMD...: REPS runs of CMD, each after the function PREP
# (untimed, given the run's number) and checked by the function CHECK (given
# the log) ; CMD must exit 0. Stores the min and median wall time and the
# median cpu time in R[NAME.min], R[NAME.med], R[NAME.cpu].
declare -A R
series() {
	local name=$1 check=$2 prep=$3 i walls=() cpus=()
	shift 3
	for ((i = 1; i <= REPS; i++)); do
		$prep "$i"
		timed 0 "$work/log" "$@"
		$check "$work/log"
		walls+=("$WALL_MS") cpus+=("$CPU_MS")
	done
	R[$name.min]=$(printf '%s\n' "${walls[@]}" | sort -g | head -1)
	R[$name.med]=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$name.cpu]=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
}

# alternate A CHECK_A B CHECK_B PREP: REPS pairs of runs, the command in
# the array CMD_A then the one in CMD_B, each after PREP (given the run's
# number) and checked. As series, plus R[A.pair]: the median over the
# pairs of A's wall time / B's, so both meet the same moment's machine
alternate() {
	local a=$1 cha=$2 b=$3 chb=$4 prep=$5 i wa=() wb=() ca=() cb=() pr=() w
	for ((i = 1; i <= REPS; i++)); do
		$prep "$i"
		timed 0 "$work/log" "${CMD_A[@]}"
		$cha "$work/log"
		w=$WALL_MS
		wa+=("$WALL_MS") ca+=("$CPU_MS")
		$prep "$i"
		timed 0 "$work/log" "${CMD_B[@]}"
		$chb "$work/log"
		wb+=("$WALL_MS") cb+=("$CPU_MS")
		pr+=("$(awk -v x="$w" -v y="$WALL_MS" 'BEGIN { if (y > 0) printf "%.4f", x / y; else print 0 }')")
	done
	R[$a.min]=$(printf '%s\n' "${wa[@]}" | sort -g | head -1)
	R[$a.med]=$(printf '%s\n' "${wa[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$a.cpu]=$(printf '%s\n' "${ca[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$b.min]=$(printf '%s\n' "${wb[@]}" | sort -g | head -1)
	R[$b.med]=$(printf '%s\n' "${wb[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$b.cpu]=$(printf '%s\n' "${cb[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$a.pair]=$(printf '%s\n' "${pr[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p" | awk '{ printf "%.2fx", $1 }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
secs() { awk -v w="$1" 'BEGIN { if (w == "") print "-"; else printf "%.1f", w / 1000 }'; }

# table rows: row LABEL SERIES [RATIO]; one LABEL WALL_MS; pop LABEL WALL_MS CPU_MS
row() { printf '%-38s %9s %9s %9s %9s\n' "$1" "${R[$2.min]}" "${R[$2.med]}" "${R[$2.cpu]}" "${3:-}"; }
one() { printf '%-38s %9s %9s\n' "$1" "" "$2"; }
pop() {
	awk -v l="$1" -v w="$2" -v c="$3" -v n="$N" \
		'BEGIN { printf "%-38s %9.1f %9.2f %9.1f\n", l, w / 1000, w / n, c / 1000 }'
}

# ---- checks (CHECK and PREP functions) --------------------------------------
nothing() { :; }
expect_calls() { # the agent has been called exactly $1 times in all
	local c
	c=$(wc -l <"$proj/counter" | tr -d ' ')
	[ "$c" = "$1" ] || die "N=$N: the agent was called $c times in all, want $1 ($(head -c 300 "$work/log"))"
}
no_agent() { expect_calls "$calls"; }
one_agent() { calls=$((calls + 1)); expect_calls "$calls"; }
one_agent_em() { one_agent; }
ninja_noop() { grep -q 'no work to do' "$1" || die "N=$N: ninja had work on a no-op: $(head -3 "$1")"; }
ninja_one() { grep -q '^\[1/1\]' "$1" || die "N=$N: ninja did not rebuild exactly one edge: $(head -3 "$1")"; }
all_scored() {
	"$em" status --json "$work/status.json" >/dev/null || die "N=$N: evalmake status failed"
	grep -q '"score": *1[,.}]' "$work/status.json" ||
		die "N=$N: the suite does not score 1: $(head -c 300 "$work/status.json")"
}
edit_task() { # new content, never seen before: a new cell key
	# (after a pause: file times tick at the kernel's coarse clock, a few
	# ms, so an edit right after ninja's cp could get the output's mtime
	# and look unchanged to ninja; the pause is not timed)
	sleep 0.05
	printf '{"input": "edit %s %d", "expected": "edit %s %d"}\n' "$RUNID" "$1" "$RUNID" "$1" >"$edited"
}

# ---- the project ------------------------------------------------------------
generate() { # generate DIR N
	local dir=$1 n=$2
	mkdir -p "$dir/tasks"
	awk -v n="$n" -v d="$dir" 'BEGIN {
		for (i = 1; i <= n; i++) {
			f = sprintf("%s/tasks/t%06d.json", d, i)
			printf "{\"input\": \"task %06d\", \"expected\": \"task %06d\"}\n", i, i > f
			close(f)
		}
		b = d "/build.ninja"
		print "rule cp\n  command = cp $in $out\n" > b
		for (i = 1; i <= n; i++)
			printf "build out/t%06d.txt: cp tasks/t%06d.json\n", i, i > b
	}'
	printf '{{input}}\n' >"$dir/prompt.md"
	# the agent uses shell builtins only: one process per cell, no exec of cat
	cat >"$dir/Evalfile" <<-'EOF'
	# generated by bench/noop.sh
	cache: cache
	jobs: 8
	suites:
	  noop:
	    tasks: tasks/*.json
	    prompt: prompt.md
	    iterations: 1
	    agent:
	      command: 'echo . >>counter; while IFS= read -r l; do printf "%s\n" "$l"; done'
	    grader: {type: exact, trim: true}
	EOF
	: >"$dir/counter"
}

# ---- main -------------------------------------------------------------------
echo "evalmake no-op benchmark: $("$em" --version 2>&1 | head -1) ($EVALMAKE), ninja $(ninja --version)"
echo "$(nproc) cpus, $(uname -sr), $work, REPS=$REPS, JOBS=$JOBS, NINJA_BUILD_MAX=$NINJA_BUILD_MAX"

summary=()
for N in "${sizes[@]}"; do
	proj=$work/n$N
	echo
	echo "== N = $N cells =="
	if [ -n "${REUSE:-}" ]; then
		proj=$REUSE/n$N
		[ -f "$proj/Evalfile" ] && [ -f "$proj/.ninja_log" ] || die "REUSE: $proj is not a project kept by bench/noop.sh"
		cd "$proj"
		echo "reusing $proj (populated): its first run may convert the cache"
		# (the earlier run put its edited task back as it was)
		timed 0 "$work/log" "$em" -s
		timed 0 "$work/log" ninja -C "$proj"
		calls=$(wc -l <"$proj/counter" | tr -d ' ')
		no_agent
		pop_em='' pop_em_cpu='' pop_nj='' pop_nj_cpu=''
	else
	generate "$proj" "$N"
	sleep 1.1 # task files older than a clock second: their stat data is trusted
	cd "$proj"

	# populate: one cold run each
	echo "populating: evalmake -s -j $JOBS runs $N agents ..."
	calls=$N
	timed 0 "$work/populate.log" "$em" -s -j "$JOBS"
	pop_em=$WALL_MS pop_em_cpu=$CPU_MS
	no_agent
	all_scored
	fi
	if [ -n "${REUSE:-}" ]; then
		:
	elif [ "$N" -le "$NINJA_BUILD_MAX" ]; then
		echo "populating: ninja -j $JOBS runs $N cp ..."
		timed 0 "$work/log" ninja -C "$proj" -j "$JOBS"
		pop_nj=$WALL_MS pop_nj_cpu=$CPU_MS
		ninjalog check "$proj" || die "bench/ninjalog.py disagrees with ninja's own log"
	else
		echo "ninja state: written by bench/ninjalog.py (N > NINJA_BUILD_MAX) ..."
		ninjalog write "$proj"
		pop_nj='' pop_nj_cpu=''
		timed 0 "$work/log" ninja -C "$proj" -n
		ninja_noop "$work/log"
	fi
	[ "$(find out -name '*.txt' | wc -l)" = "$N" ] || die "N=$N: ninja's out/ does not hold $N files"

	# no-op: one untimed warm-up each, then the series
	echo "timing ..."
	timed 0 "$work/log" "$em" -s
	no_agent
	timed 0 "$work/log" ninja -C "$proj"
	ninja_noop "$work/log"
	# the first no-op planned; this one replays its record (report/noop.h)
	timed 0 "$work/log" "$em" -s
	no_agent
	CMD_A=("$em" -s) CMD_B=(ninja -C "$proj")
	alternate em.s no_agent nj ninja_noop nothing
	series em.q no_agent nothing "$em" -q
	series em.st no_agent nothing "$em" status --json /dev/null
	series fl.em nothing nothing "$em" --version
	series fl.nj nothing nothing ninja --version

	# with `evalmake watch` running on the project: the run asks it
	"$em" watch --jsonl >"$work/watch.out" 2>"$work/watch.err" &
	wpid=$!
	for ((i = 0; i < 600; i++)); do
		[ -s "$work/watch.out" ] && break
		sleep 0.1
	done
	[ -s "$work/watch.out" ] || { kill "$wpid"; die "N=$N: evalmake watch printed no report in 60 s: $(tail -3 "$work/watch.err")"; }
	timed 0 "$work/log" "$em" -s # its first question: the watch stats once
	no_agent
	CMD_A=("$em" -s) CMD_B=(ninja -C "$proj")
	alternate em.w no_agent nj.w ninja_noop nothing
	kill -INT "$wpid"
	wait "$wpid" 2>/dev/null || true

	# one task edited: evalmake runs one cell, ninja rebuilds one edge
	edited=$proj/tasks/$(printf 't%06d.json' $(((N + 1) / 2)))
	cp "$edited" "$work/orig.json"
	CMD_A=("$em" -s) CMD_B=(ninja -C "$proj")
	alternate ed.em one_agent_em ed.nj ninja_one edit_task

	# revert the edit: a cache hit for evalmake, a rebuild for ninja
	sleep 0.05 # as in edit_task
	cp "$work/orig.json" "$edited"
	timed 0 "$work/log" "$em" -s
	no_agent
	rv_em=$WALL_MS
	timed 0 "$work/log" ninja -C "$proj"
	ninja_one "$work/log"
	rv_nj=$WALL_MS
	all_scored
	cd "$work"

	printf '%-38s %9s %9s %9s %9s\n' "N = $N" "min ms" "median ms" "cpu ms" "vs ninja: medians, median of pairs"
	row "no-op   evalmake -s" em.s "$(ratio "${R[em.s.med]}" "${R[nj.med]}") ${R[em.s.pair]}"
	row "no-op   ninja" nj
	row "no-op   evalmake -q" em.q "$(ratio "${R[em.q.med]}" "${R[nj.med]}")"
	row "no-op   evalmake status --json /dev/null" em.st "$(ratio "${R[em.st.med]}" "${R[nj.med]}")"
	row "no-op   evalmake -s, watch running" em.w "$(ratio "${R[em.w.med]}" "${R[nj.w.med]}") ${R[em.w.pair]}"
	row "no-op   ninja (beside the watch)" nj.w
	row "floor   evalmake --version" fl.em
	row "floor   ninja --version" fl.nj
	row "1 edit  evalmake -s (runs 1 cell)" ed.em "$(ratio "${R[ed.em.med]}" "${R[ed.nj.med]}") ${R[ed.em.pair]}"
	row "1 edit  ninja (rebuilds 1 edge)" ed.nj
	one "revert  evalmake -s (cache hit)" "$rv_em"
	one "revert  ninja (rebuilds 1 edge)" "$rv_nj"
	printf '%-38s %9s %9s %9s\n' "" "wall s" "ms/cell" "cpu s"
	if [ -n "$pop_em" ]; then
		pop "populate evalmake -j $JOBS ($N agents)" "$pop_em" "$pop_em_cpu"
	else
		printf '%-38s %9s\n' "populate evalmake" "reused"
	fi
	if [ -n "$pop_nj" ]; then
		pop "populate ninja -j $JOBS ($N cp)" "$pop_nj" "$pop_nj_cpu"
	else
		printf '%-38s %9s\n' "populate ninja" "skipped (N > NINJA_BUILD_MAX)"
	fi
	echo "checks passed: the agent ran $calls times in all ($N populate + $REPS edits), every exit status 0"

	summary+=("$(printf '%8s %10s %10s %7s %7s %10s %7s %10s %10s %7s %10s %10s' "$N" \
		"${R[em.s.med]}" "${R[nj.med]}" "$(ratio "${R[em.s.med]}" "${R[nj.med]}")" "${R[em.s.pair]}" \
		"${R[em.w.med]}" "${R[em.w.pair]}" \
		"${R[ed.em.med]}" "${R[ed.nj.med]}" "${R[ed.em.pair]}" "$(secs "$pop_em")" "$(secs "$pop_nj")")")
	[ "$KEEP" = 1 ] || [ -n "${REUSE:-}" ] || rm -rf "$proj"
done

echo
echo "== summary: median wall ms (populate: s) =="
printf '%8s %10s %10s %7s %7s %10s %7s %10s %10s %7s %10s %10s\n' cells "em no-op" "nj no-op" ratio pairs \
	"em+watch" pairs "em 1 edit" "nj 1 edit" pairs "em popul." "nj popul."
printf '%s\n' "${summary[@]}"
