#!/usr/bin/env bash
# bench/noop.sh: how much does evalmake cost when there is (almost) nothing to do?
#
# Usage:  bash bench/noop.sh [N...]          (default sizes: 1000 10000 100000)
# Environment:
#   EVALMAKE=path   the binary to measure (default: the repo's ./evalmake; it is
#                   copied into the temp folder first, so a rebuild happening
#                   meanwhile does not change what is measured)
#   REPS=5          timed repetitions of each measurement (odd: median is exact)
#   JOBS=8          -j for the populate runs (evalmake and ninja alike)
#   KEEP=1          keep the generated projects (the script prints where)
#   TMPDIR          where the temp folder goes (default /tmp)
#
# For each N it generates one project with N cells: one suite, N task files
# tasks/tNNNNNN.json ({"input": ..., "expected": ...}), 1 iteration, a command
# agent that appends a line to ./counter and echoes its stdin, the exact grader.
# Beside the Evalfile it writes the same graph for ninja, the baseline: one rule
# (cp) and N edges "build out/tNNNNNN.txt: cp tasks/tNNNNNN.json", i.e. one
# input and one output per cell, the cheapest thing a build tool can track.
#
# What is measured, per N (wall = elapsed time, cpu = user+sys of the tool and
# its children, both from one run; min and median over REPS runs):
#   populate    the cold run that fills the cache: evalmake spawns N agents,
#               ninja N cp processes. wall/N is the per-cell cost; for evalmake
#               it includes one `sh -c` agent per cell, so compare it with
#               ninja's per-edge cost to see the tool's own overhead per cell.
#   no-op       everything is up to date: `evalmake -s`, `evalmake -q`,
#               `evalmake status --json /dev/null`, and `ninja -C DIR`.
#               ratio = evalmake median / ninja median (1.0 = as fast as ninja).
#               The contract asks for "well under a second" at 100,000 cells.
#   one edit    one task file is rewritten with new content before each run,
#               then `evalmake -s` (must run exactly one cell) and ninja (must
#               rebuild exactly one edge) are timed. Should stay close to the
#               no-op time: the cost of a change scales with what changed.
#   revert      the edited task is put back as it was: evalmake finds the old
#               cell in its cache (content hashing: runs nothing), ninja sees a
#               new mtime and rebuilds the edge. One run, for the record.
# One untimed warm-up run precedes each no-op series (it also lets evalmake
# record the stat data of files that were too fresh to trust on the first run).
#
# Every run is checked, and the script fails loudly if a check does not hold:
# exit status 0 (for -q: 0 = up to date), the agent counter stays at N during
# no-op runs and grows by exactly 1 per edited run, ninja says "no work to do"
# on a no-op and "[1/1]" after an edit.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
EVALMAKE=${EVALMAKE:-$repo/evalmake}
REPS=${REPS:-5}
JOBS=${JOBS:-8}
KEEP=${KEEP:-0}
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000 10000 100000); fi

die() { echo "noop.sh: FAIL: $*" >&2; exit 1; }

[ -x "$EVALMAKE" ] || die "no evalmake binary at $EVALMAKE (run make first)"
command -v ninja >/dev/null || die "ninja not found (apt-get install -y ninja-build)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash >= 5 (EPOCHREALTIME)"
for n in "${sizes[@]}"; do
	[[ $n =~ ^[1-9][0-9]{0,5}$ ]] || die "size '$n': want an integer from 1 to 999999"
done
[[ $REPS =~ ^[1-9][0-9]?$ ]] || die "REPS must be from 1 to 99"

work=$(mktemp -d "${TMPDIR:-/tmp}/evalmake-bench.XXXXXX")
if [ "$KEEP" = 1 ]; then
	trap 'echo "kept: $work"' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
cp "$EVALMAKE" "$work/evalmake"
em=$work/evalmake

# ---- timing -----------------------------------------------------------------
# timed WANT LOG CMD...: run CMD once (stdout+stderr to LOG), die unless its exit
# status is WANT; sets WALL_MS (from EPOCHREALTIME, microsecond clock) and
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

# series NAME WANT CHECK PREP CMD...: REPS timed runs of CMD, each preceded by
# the function PREP (untimed) and followed by the function CHECK; stores the
# min and median wall time and the median cpu time in R[NAME.min|med|cpu].
declare -A R
series() {
	local name=$1 want=$2 check=$3 prep=$4 i walls=() cpus=()
	shift 4
	for ((i = 1; i <= REPS; i++)); do
		$prep "$i"
		timed "$want" "$work/log" "$@"
		$check "$work/log"
		walls+=("$WALL_MS") cpus+=("$CPU_MS")
	done
	R[$name.min]=$(printf '%s\n' "${walls[@]}" | sort -g | head -1)
	R[$name.med]=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
	R[$name.cpu]=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(((REPS + 1) / 2))p")
}

# table rows: row LABEL SERIES RATIO, and pop LABEL WALL_MS CPU_MS (per-cell cost over N)
row() { printf '%-36s %10s %10s %9s %9s\n' "$1" "${R[$2.min]}" "${R[$2.med]}" "${R[$2.cpu]}" "$3"; }
pop() {
	awk -v l="$1" -v w="$2" -v c="$3" -v n="$N" \
		'BEGIN { printf "%-36s %10.2f %10.3f %9.2f\n", l, w / 1000, w / n, c / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

# ---- checks -----------------------------------------------------------------
nothing() { :; }
counter() { wc -l <"$proj/counter" | tr -d ' '; }
expect_calls() { # the agent has been called exactly $1 times in all
	local c
	c=$(counter)
	[ "$c" = "$1" ] || die "N=$N: the agent was called $c times in all, want $1 (log: $(head -c 400 "$work/log"))"
}
no_agent() { expect_calls "$calls"; }
one_agent() { calls=$((calls + 1)); expect_calls "$calls"; }
ninja_noop() { grep -q 'no work to do' "$1" || die "N=$N: ninja did work on a no-op: $(head -3 "$1")"; }
ninja_one() {
	grep -q '^\[1/1\]' "$1" || die "N=$N: ninja did not rebuild exactly one edge: $(head -3 "$1")"
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

edit_task() { # PREP for the edit series: new content, never seen before
	printf '{"input": "edit %d", "expected": "edit %d"}\n' "$1" "$1" >"$edited"
}

# ---- main -------------------------------------------------------------------
echo "evalmake no-op benchmark: $("$em" --version 2>&1 | head -1) ($EVALMAKE), ninja $(ninja --version)"
echo "$(nproc) cpus, $(uname -sr), temp folder $work, REPS=$REPS (min and median), JOBS=$JOBS"

summary=()
for N in "${sizes[@]}"; do
	proj=$work/n$N
	echo
	echo "== N = $N cells ==  (generating...)"
	generate "$proj" "$N"
	sleep 1.1 # task files older than a clock second: stat data trustworthy
	cd "$proj"
	calls=0

	# populate: one cold run each
	timed 0 "$work/populate.log" "$em" -s -j "$JOBS"
	pop_em=$WALL_MS pop_em_cpu=$CPU_MS
	calls=$N
	no_agent
	timed 0 "$work/log" ninja -C "$proj" -j "$JOBS"
	pop_nj=$WALL_MS pop_nj_cpu=$CPU_MS
	[ "$(find out -name '*.txt' | wc -l)" = "$N" ] || die "ninja did not build $N outputs"

	# every cell must have scored (exact grader, the agent echoes the input)
	"$em" status --json "$work/status.json" >/dev/null || die "status failed"
	grep -q '"score": *1[,.}]' "$work/status.json" || die "the suite did not score 1: $(head -c 300 "$work/status.json")"

	# warm-up (untimed), then the no-op series
	timed 0 "$work/log" "$em" -s
	no_agent
	timed 0 "$work/log" ninja -C "$proj"
	ninja_noop "$work/log"
	series em.s 0 no_agent nothing "$em" -s
	series em.q 0 no_agent nothing "$em" -q
	series em.st 0 no_agent nothing "$em" status --json /dev/null
	series nj 0 ninja_noop nothing ninja -C "$proj"

	# one task edited: evalmake runs one cell, ninja one edge
	edited=$proj/tasks/$(printf 't%06d.json' $(((N + 1) / 2)))
	cp "$edited" "$work/orig.json"
	series ed.em 0 one_agent edit_task "$em" -s
	series ed.nj 0 ninja_one edit_task ninja -C "$proj"

	# revert the edit: a cache hit for evalmake, a rebuild for ninja
	cp "$work/orig.json" "$edited"
	timed 0 "$work/log" "$em" -s
	no_agent
	rv_em=$WALL_MS
	timed 0 "$work/log" ninja -C "$proj"
	ninja_one "$work/log"
	rv_nj=$WALL_MS
	cd "$work"

	printf '%-36s %10s %10s %9s %9s\n' "" "min ms" "median ms" "cpu ms" "vs ninja"
	row "no-op   evalmake -s" em.s "$(ratio "${R[em.s.med]}" "${R[nj.med]}")"
	row "no-op   evalmake -q" em.q "$(ratio "${R[em.q.med]}" "${R[nj.med]}")"
	row "no-op   evalmake status --json" em.st "$(ratio "${R[em.st.med]}" "${R[nj.med]}")"
	row "no-op   ninja" nj ""
	row "1 edit  evalmake -s (runs 1 cell)" ed.em "$(ratio "${R[ed.em.med]}" "${R[ed.nj.med]}")"
	row "1 edit  ninja (rebuilds 1 edge)" ed.nj ""
	printf '%-36s %10s %10s %9s %9s\n' "revert  evalmake -s (cache hit)" "$rv_em" "" "" ""
	printf '%-36s %10s %10s %9s %9s\n' "revert  ninja (rebuilds 1 edge)" "$rv_nj" "" "" ""
	printf '%-36s %10s %10s %9s\n' "" "wall s" "ms/cell" "cpu s"
	pop "populate evalmake -j $JOBS ($N agents)" "$pop_em" "$pop_em_cpu"
	pop "populate ninja -j $JOBS ($N cp)" "$pop_nj" "$pop_nj_cpu"
	echo "checks passed: agent called exactly $calls times ($N populate + $REPS edits), exit statuses 0"

	summary+=("$(printf '%8s %12s %12s %7s %12s %12s %10s %10s' "$N" \
		"${R[em.s.med]}" "${R[nj.med]}" "$(ratio "${R[em.s.med]}" "${R[nj.med]}")" \
		"${R[ed.em.med]}" "${R[ed.nj.med]}" \
		"$(awk -v w="$pop_em" 'BEGIN { printf "%.2f", w / 1000 }')" \
		"$(awk -v w="$pop_nj" 'BEGIN { printf "%.2f", w / 1000 }')")")
	[ "$KEEP" = 1 ] || rm -rf "$proj"
done

echo
echo "== summary (median wall ms; populate in s) =="
printf '%8s %12s %12s %7s %12s %12s %10s %10s\n' cells "em no-op" "ninja no-op" ratio \
	"em 1 edit" "ninja 1 edit" "em popul." "ninja pop."
printf '%s\n' "${summary[@]}"
