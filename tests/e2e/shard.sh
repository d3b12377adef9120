#!/usr/bin/env bash
# End-to-end tests of --shard K/N: N shards run by hand cover every cell
# exactly once (N = 1, 3, 7), adding a task moves no other cell between
# shards, an agent error in one shard fails that shard alone and keeps the
# rest, shards started together on one cache never run a cell twice,
# --shard auto reads SLURM's and Kubernetes' variables, and bad values are
# refused (exit 2, nothing run). No SLURM needed.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/shard.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# a project of 20 tasks x 2 iterations (40 cells); each agent call appends
# its cell id to ./calls (O_APPEND, one short write: whole lines), after
# sleeping ./delay seconds when that file exists
shardproject() {
	local n=${1:-20} i
	mkdir -p tasks
	for ((i = 1; i <= n; i++)); do
		printf '{"id": "t%02d", "input": "%d", "expected": "%d"}\n' "$i" "$i" "$i"
	done >tasks/all.jsonl
	cat >agent.sh <<'EOF'
#!/bin/sh
[ -f delay ] && sleep "$(cat delay)"
echo "$EVAL_SUITE/$EVAL_TASK#$EVAL_ITERATION" >>calls
if [ -f fail ] && [ "$(cat fail)" = "$EVAL_TASK" ]; then
	echo "failed on purpose on $EVAL_TASK" >&2
	exit 3
fi
cat
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/all.jsonl
    iterations: 2
    agent: {command: ./agent.sh}
    grader: {type: exact, trim: true}
EOF
}

# the cells shard K of N would run, sorted (every cell needs a run under -B)
slice() { "$E" -B -n --shard "$1" | awk '$1 == "run" { sub(":", "", $2); print $2 }' | sort; }

for n in 1 3 7; do
	try "$n shards run by hand cover every cell exactly once"
	shardproject
	for ((k = 1; k <= n; k++)); do
		em --shard "$k/$n"
		assert_rc 0
		check "shard $k/$n says it is a partial view" grep -q "^shard $k/$n (a partial view)" "$T/out"
		checks "shard $k/$n shows no error" "grep -E '^s ' '$T/out' | awk '{ exit \$8 != 0 }'"
	done
	checks "40 agent calls" "[ \$(wc -l <calls) = 40 ]"
	checks "no cell ran twice" "[ -z \"\$(sort calls | uniq -d)\" ]"
	checks "the shards wrote no history line (a slice's scores)" "[ \$(sqlite3 cache/index.db 'SELECT count(*) FROM history') = 0 ]"
	em --json r.json
	checks "the merge run wrote one" "[ \$(sqlite3 cache/index.db 'SELECT count(*) FROM history') = 1 ]"
	assert_rc 0
	assert_json r.json '[.ran, .cached, .errors]' '[0, 40, 0]'
	checks "the final run called no agent" "[ \$(wc -l <calls) = 40 ]"
done

try "adding a task moves no other cell between shards"
shardproject
for k in 1 2 3; do slice "$k/3" >"$T/before$k"; done
checks "the slices cover the 40 cells once" "[ \$(cat '$T'/before? | sort -u | wc -l) = 40 ] && [ \$(cat '$T'/before? | wc -l) = 40 ]"
checks "no slice is empty" "[ -s '$T/before1' ] && [ -s '$T/before2' ] && [ -s '$T/before3' ]"
printf '{"id": "t21", "input": "21", "expected": "21"}\n' >>tasks/all.jsonl
for k in 1 2 3; do
	slice "$k/3" >"$T/after$k"
	checks "shard $k/3 keeps its cells" "[ -z \"\$(comm -23 '$T/before$k' '$T/after$k')\" ]"
	checks "shard $k/3 gains only the new task's cells" "! comm -13 '$T/before$k' '$T/after$k' | grep -v '^s/t21#'"
done
checks "the new task's 2 cells are in one slice each" "[ \$(cat '$T'/after? | grep -c '^s/t21#') = 2 ]"

try "an agent error in one shard: that shard exits 1 naming the cell, the rest are kept"
shardproject
echo t05 >fail
failing=0
for k in 1 2 3; do
	em -k --shard "$k/3"
	if grep -q 's/t05#1' "$T/out" "$T/err" && [ "$rc" = 1 ]; then
		failing=$((failing + 1))
	elif [ "$rc" != 0 ]; then
		fail "shard $k/3 exited $rc"
	fi
done
checks "a shard failed naming s/t05#1" "[ $failing -ge 1 ]"
rm fail
em status --json st.json
assert_json st.json '[.suites[0].tasks[] | select(.id != "t05") | .cells[].status] | unique' '["cached"]'
em --json r.json
assert_rc 0
assert_json r.json '[.ran, .cached]' '[2, 38]'
checks "only t05 ran again" "[ \$(grep -c 't05' calls) = 4 ] && [ \$(wc -l <calls) = 42 ]"

try "shards and whole runs started together on one cache never run a cell twice"
shardproject
echo 0.05 >delay
for k in 1 2 3; do bg_em -s --shard "$k/3"; pids+=("$bgpid"); done
bg_em -s; pids+=("$bgpid")
bg_em -s -j 8; pids+=("$bgpid")
for bgpid in "${pids[@]}"; do
	bg_wait 60
	assert_rc 0
done
unset pids
checks "40 agent calls" "[ \$(wc -l <calls) = 40 ]"
checks "no cell ran twice" "[ -z \"\$(sort calls | uniq -d)\" ]"
em --json r.json
assert_json r.json '[.ran, .cached, .errors]' '[0, 40, 0]'
check "the index checks out" sqlite3 cache/index.db "PRAGMA integrity_check"
checks "the index has 40 runs" "[ \$(sqlite3 cache/index.db 'SELECT count(*) FROM runs') = 40 ]"

try "--shard auto reads SLURM_ARRAY_TASK_ID, or JOB_COMPLETION_INDEX with --shards"
shardproject
slice 2/3 >"$T/by-hand"
SLURM_ARRAY_TASK_ID=6 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_COUNT=3 slice auto >"$T/slurm"
check "SLURM task 6 of 5..7 is shard 2/3" cmp "$T/by-hand" "$T/slurm"
"$E" -B -n --shard auto --shards 3 >/dev/null 2>&1
checks "JOB_COMPLETION_INDEX 1 is shard 2/3" "JOB_COMPLETION_INDEX=1 '$E' -B -n --shard auto --shards 3 | awk '\$1 == \"run\" { sub(\":\", \"\", \$2); print \$2 }' | sort | cmp - '$T/by-hand'"
JOB_COMPLETION_INDEX=1 em --shard auto --shards 3
assert_rc 0
check "the table says shard 2/3" grep -q "^shard 2/3 " "$T/out"
checks "it ran its slice" "[ \$(sort calls | cmp - '$T/by-hand' && echo same) = same ]"

try "check --shard runs its slice and leaves the gates to the final run"
shardproject
sed -i 's/grader: {type: exact, trim: true}/grader: {type: exact, trim: true}\n    threshold: 1/' Evalfile
em check --shard 1/2
assert_rc 0
check "it says the gates are left to the final run" grep -q "gates are checked by the final run" "$T/out"
em check --shard 2/2
assert_rc 0
em check
assert_rc 0
check "the final check passes" grep -q "check: passed" "$T/out"
checks "40 agent calls" "[ \$(wc -l <calls) = 40 ]"

try "bad --shard values: exit 2, nothing run"
shardproject
for bad in 0/3 4/3 3 /3 2/ x/y 1/0 -1/3 "2/3 x" ""; do
	em --shard "$bad"
	assert_rc 2
	check "--shard '$bad' is explained" grep -q -- "--shard" "$T/err"
done
em --shard auto
assert_rc 2
check "auto without the variables names them" grep -q "SLURM_ARRAY_TASK_ID" "$T/err"
JOB_COMPLETION_INDEX=0 em --shard auto
assert_rc 2
check "JOB_COMPLETION_INDEX without --shards asks for it" grep -q -- "--shards N" "$T/err"
JOB_COMPLETION_INDEX=3 em --shard auto --shards 3
assert_rc 2
SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 em --shard auto
assert_rc 2
em --shards 3
assert_rc 2
em --shard 1/3 --shards 4
assert_rc 2
em status --shard 1/3
assert_rc 2
em check --locked --shard 1/3
assert_rc 2
em --executor cloud
assert_rc 2
check "nothing ran" test ! -e calls

# sbatch, squeue and scancel that accept a job and run none of its tasks:
# a SLURM whose tasks all died before storing anything
fakeslurm() {
	mkdir -p fakebin
	printf '#!/bin/sh\necho 4242\n' >fakebin/sbatch
	printf '#!/bin/sh\nexit 0\n' >fakebin/squeue
	printf '#!/bin/sh\nexit 0\n' >fakebin/scancel
	chmod +x fakebin/*
}

try "executor slurm with -B: old entries are not the array's results (tasks that stored nothing fail)"
shardproject 3
em
assert_rc 0
fakeslurm
PATH=$PWD/fakebin:$PATH em -B --executor slurm
assert_rc 1
check "the cells are named as errors" grep -q "s/t01#1: no result" "$T/err"
checks "no agent ran again" "[ \$(wc -l <calls) = 6 ]"
check "no score shown as fresh" ! grep -qE '^s .* 6 +0 +0$' "$T/out"

try "executor slurm refuses the bounds of a local run (exit 2, nothing submitted)"
shardproject 3
fakeslurm
PATH=$PWD/fakebin:$PATH em --executor slurm --max-cells 2
assert_rc 2
check "says why" grep -q "with --executor local" "$T/err"
check "nothing ran" test ! -e calls

finish
summary
