#!/usr/bin/env bash
# A run that changes nothing is remembered (report/noop.h) and the next
# one replays it, with one stat per path and no folder listed; every input
# the plan reads, a result changed by another command, another binary and
# a write in the last second make it plan again. "Planned" is seen from
# outside: planning lists the tasks folder (strace: a getdents64 on it),
# a replay lists no folder of the project.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/noop.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
# make test runs the sanitizer pass with it: here replays are the point
unset EVALMAKE_NOOP_VERIFY

if ! command -v strace >/dev/null || ! command -v sqlite3 >/dev/null; then
	echo "noop.sh: needs strace and sqlite3 (.ci/deps installs them)" >&2
	exit 2
fi

# evalmake ARGS under strace: $planned is 1 when it listed the tasks
# folder (it planned), 0 when it did not (it replayed a record)
emt() {
	last="evalmake $* (traced)"
	# (LeakSanitizer cannot run under ptrace: off for the traced run)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout -k 5 120 strace -f -qq -y -e trace=getdents64 -o "$T/trace" "$E" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	sancheck "$T/err"
	if grep -q '/tasks>' "$T/trace"; then planned=1; else planned=0; fi
}

assert_planned() {
	[ "$planned" = "$1" ] || fail "planned=$planned, expected $1 ($([ "$1" = 1 ] && echo "it replayed a record" || echo "it planned"))"
}

# wait out the second within which a write may hide (seen.h), run once to
# keep a record, and check the next run replays it
settle() {
	sleep 1.1
	em -s
	assert_rc 0
	emt -s
	assert_rc 0
	assert_planned 0
}

nhistory() { sqlite3 cache/index.db 'SELECT count(*) FROM history'; }

# suite s: three .json tasks, a prompt, a deps folder, a variable; suite
# q: a .jsonl file. The agent logs each call and echoes the input
mknoopproject() {
	local i
	mkdir -p tasks lib
	for i in 1 2 3; do
		printf '{"input": "a%s", "expected": "a%s"}\n' "$i" "$i" >"tasks/t$i.json"
	done
	printf '{"id": "x", "input": "x", "expected": "x"}\n{"id": "y", "input": "y", "expected": "y"}\n' >q.jsonl
	echo '{{input}}' >prompt.md
	echo one >lib/x.txt
	echo two >lib/y.txt
	# $NOOP_WRONG is no input (not in env_inputs): it lets a case change
	# a stored result by running a cell again with -B
	cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
if [ -n "${NOOP_WRONG:-}" ]; then echo wrong; else cat; fi
EOF
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*.json
    prompt: prompt.md
    agent: {command: sh agent.sh, deps: [lib], env_inputs: [MODE]}
    grader: {type: exact, trim: true}
  q:
    tasks: q.jsonl
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
EOF
	em -s
	assert_rc 0
	assert_calls 5
	rm -f calls
}

try "a run that changes nothing is replayed: the same table, no agent call, no folder listed, a history line per suite"
mknoopproject
sleep 1.1
em
assert_rc 0
cp "$T/out" "$T/planned.txt"
h=$(nhistory)
emt
assert_rc 0
assert_planned 0
assert_calls 0
check "the same table as planning printed" cmp "$T/out" "$T/planned.txt"
checks "a history line per suite" '[ "$(nhistory)" = $((h + 2)) ]'
emt -q
assert_rc 0
assert_planned 0
emt status
assert_rc 0
assert_planned 0
check "status prints the same table" cmp "$T/out" "$T/planned.txt"
checks "status appends no history" '[ "$(nhistory)" = $((h + 2)) ]'
# a plan of other targets is another record
em -s s
emt s
assert_planned 0
check "the record of 's' has only its suite" ! grep -q '^q ' "$T/out"

try "each input the plan reads makes the next run plan again, and run exactly what changed"
mknoopproject
settle
# same size, the old mtime put back: the ctime still tells
cp -p tasks/t1.json "$T/ref"
printf '{"input": "b1", "expected": "b1"}\n' >tasks/t1.json
touch -r "$T/ref" tasks/t1.json
emt -s
assert_planned 1
assert_calls_are "t1"
rm -f calls
settle
printf '{"input": "a4", "expected": "a4"}\n' >tasks/t4.json
emt -s
assert_planned 1
assert_calls_are "t4"
rm -f calls
settle
rm tasks/t4.json
emt
assert_planned 1
assert_calls 0
check "the table has 3 tasks again" grep -qE '^s +1\.000 .* 3 +3 ' "$T/out"
settle
echo 'say {{input}}' >prompt.md
emt -s
assert_planned 1
assert_calls 3
rm -f calls
settle
echo ONE >lib/x.txt
emt -s
assert_planned 1
assert_calls 3
rm -f calls
settle
# .gitignore was missing: now it drops lib/y.txt from the deps
echo 'lib/y.txt' >.gitignore
emt -s
assert_planned 1
assert_calls 3
rm -f calls
settle
MODE=b emt -s
assert_planned 1
assert_calls 3
rm -f calls
settle
echo '# v2' >>agent.sh
emt -s
assert_planned 1
assert_calls 5
rm -f calls
settle
printf '{"id": "x", "input": "x2", "expected": "x2"}\n{"id": "y", "input": "y", "expected": "y"}\n' >q.jsonl
emt -s
assert_planned 1
assert_calls_are "x"
rm -f calls
settle
sed -i 's/grader: {type: exact, trim: true}/grader: {type: contains}/' Evalfile
emt -s
assert_planned 1
assert_calls 0
settle

try "a result another command changed is not replayed: the table shows it"
mknoopproject
settle
NOOP_WRONG=1 em -s -B s/t1
assert_rc 0
assert_calls_are "t1"
sleep 1.1
emt
assert_planned 1
check "the table shows the new score" grep -q 'FAIL s/t1' "$T/out"

try "a record is not kept of a file written in the last second, nor used by another binary"
mknoopproject
settle
echo 'again {{input}}' >prompt.md
em -s
assert_calls 3
emt -s
assert_planned 1
sleep 1.1
em -s
emt -s
assert_planned 0
cp "$E" "$T/evalmake2"
E2=$E
E=$T/evalmake2
emt -s
assert_planned 1
E=$E2
emt -s
assert_planned 0

try "a file made beside the Evalfile does not end a record (tasks in a folder, the agent named ./agent.sh)"
mknoopproject
sed -i 's#command: sh agent.sh, deps#command: sh ./agent.sh, deps#' Evalfile
em -s
rm -f calls
settle
echo "a note" >notes.txt
emt -s
assert_rc 0
assert_planned 0
assert_calls 0

try "-q after a change says not up to date without replaying"
mknoopproject
settle
echo 'x {{input}}' >prompt.md
emt -q
assert_rc 1
assert_planned 1

try "EVALMAKE_NOOP_VERIFY checks a record against planning: a result removed behind the counter's back is caught"
mknoopproject
settle
EVALMAKE_NOOP_VERIFY=1 emt -s
assert_rc 0
assert_planned 1
# remove a grade without counting it (the trigger dropped first): the
# record now lies, and verification must say so
sqlite3 cache/index.db "DROP TRIGGER grades_DELETE; DELETE FROM grades WHERE key = (SELECT key FROM grades LIMIT 1);"
EVALMAKE_NOOP_VERIFY=1 emt -s
assert_rc 70
check "it says the record disagrees" grep -q 'internal error: a no-op record held that planning disagrees with' "$T/err"

# suite s: four .json tasks, 2 iterations; suite m: two .json tasks and
# two graders. Every task a .json file: a record keeps its plan
mkdeltaproject() {
	local i
	mkdir -p tasks more
	for i in 1 2 3 4; do
		printf '{"input": "a%s", "expected": "a%s"}\n' "$i" "$i" >"tasks/t$i.json"
	done
	for i in 1 2; do
		printf '{"input": "m%s", "expected": "m%s"}\n' "$i" "$i" >"more/u$i.json"
	done
	cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
cat
EOF
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*.json
    iterations: 2
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
  m:
    tasks: more/*.json
    agent: {command: sh agent.sh}
    graders:
      - {name: same, type: exact, trim: true}
      - {name: has, type: contains}
EOF
	em -s
	assert_rc 0
	rm -f calls
}

# the table planning everything prints now (--json: no record is used)
fulltable() {
	"$E" --json "$T/full.json" >"$T/full.txt" 2>"$T/full.err"
}

try "a task file changed in place: its cells alone are planned and run, no folder listed, and the table is planning's"
mkdeltaproject
settle
printf '{"input": "b2", "expected": "a2"}\n' >tasks/t2.json
EVALMAKE_NOOP_DEBUG=1 emt
assert_rc 0
assert_planned 0
assert_calls_are "$(printf 't2\nt2')"
check "it says it planned one changed file alone" grep -q 'planned the tasks of 1 changed file alone (tasks/t2.json)' "$T/err"
check "the table shows the new failure" grep -q 'FAIL s/t2  0.00  expected "a2", got "b2"' "$T/out"
rm -f calls
# the file was written within the second: the next run reads it again
# (its content, not its stat data) and runs nothing
EVALMAKE_NOOP_DEBUG=1 emt
assert_rc 0
assert_planned 0
assert_calls 0
cp "$T/out" "$T/delta.txt"
fulltable
check "the same table as planning everything" cmp "$T/delta.txt" "$T/full.txt"
printf '{"input": "m2 too", "expected": "m2"}\n' >more/u2.json
printf '{"input": "a1 again", "expected": "a1 again"}\n' >tasks/t1.json
emt
assert_planned 0
assert_calls_are "$(printf 'u2\nt1\nt1')"
emt
cp "$T/out" "$T/delta.txt"
fulltable
check "two suites, two graders: the same table as planning" cmp "$T/delta.txt" "$T/full.txt"
check "each grader's score is there" grep -qE '^m .* same 0\.500 +has 1\.000' "$T/delta.txt"
sleep 1.1
em -s
EVALMAKE_NOOP_DEBUG=1 emt -s
assert_planned 0
check "then it replays: nothing said changed" ! grep -q 'changed' "$T/err"

try "a task file that is bad now, a list of tasks, or a new task: planned in full as ever"
mkdeltaproject
settle
echo '{bad' >tasks/t3.json
emt -s
assert_rc 2
check "planning's error, naming the file" grep -q 'tasks/t3.json:1: expected one JSON object' "$T/err"
printf '{"input": "a3", "expected": "a3"}\n' >tasks/t3.json
em -s
assert_calls 0
settle
printf '[{"id": "x", "input": "a3", "expected": "a3"}, {"id": "y", "input": "y", "expected": "y"}]\n' >tasks/t3.json
emt -s
assert_rc 0
assert_planned 1
em
check "the list's tasks are planned: 5 tasks, 10 cells" grep -qE '^s +1\.000 .* 5 +10 ' "$T/out"
rm -f calls
printf '{"input": "a3", "expected": "a3"}\n' >tasks/t3.json
settle
printf '{"input": "a5", "expected": "a5"}\n' >tasks/t5.json
emt -s
assert_planned 1
assert_calls_are "$(printf 't5\nt5')"

try "a task saved by rename, a stray file beside the tasks: the globs list again, find the same tasks, and only the saved task runs"
mkdeltaproject
settle
printf '{"input": "r2", "expected": "r2"}\n' >tasks/.t2.json.tmp
mv tasks/.t2.json.tmp tasks/t2.json
EVALMAKE_NOOP_DEBUG=1 em
assert_rc 0
assert_calls_are "$(printf 't2\nt2')"
check "it planned that task alone, listing the folder again" grep -q 'planned the tasks of 1 changed file alone (tasks/t2.json), the task globs listed again' "$T/err"
rm -f calls
# the folder was written within the second before that run: its record
# marks it to be listed again, rather than keeping none
EVALMAKE_NOOP_DEBUG=1 em
assert_calls 0
check "a record was kept and used" ! grep -q 'planned in full\|none for this command' "$T/err"
settle
echo "a note" >tasks/notes.txt
EVALMAKE_NOOP_DEBUG=1 em
assert_rc 0
assert_calls 0
check "the same tasks: nothing planned again" grep -q 'the task globs listed again: the same tasks, none changed' "$T/err"
cp "$T/out" "$T/delta.txt"
fulltable
check "the same table as planning everything" cmp "$T/delta.txt" "$T/full.txt"
rm tasks/t4.json
EVALMAKE_NOOP_DEBUG=1 em
check "a task gone: planned in full" grep -q 'planned in full: a task file came or went' "$T/err"
check "the table has 3 tasks" grep -qE '^s +1\.000 .* 3 +6 ' "$T/out"

try "a folder the tasks share with the agent's deps: a new file there changes the deps, and every cell runs again"
mkdeltaproject
sed -i 's#agent: {command: sh agent.sh}#agent: {command: sh agent.sh, deps: [tasks]}#' Evalfile
em -s
rm -f calls
# (the deps walk lists tasks/ at every load: no settle, which tells a
# replay by the folder not being listed)
sleep 1.1
em -s
EVALMAKE_NOOP_DEBUG=1 em -s
check "a record is kept and replayed" ! grep -q 'changed\|planned' "$T/err"
echo "more context" >tasks/context.txt
EVALMAKE_NOOP_DEBUG=1 em -s
assert_rc 0
check "the record's plan is refused: the suite's deps changed" grep -q "planned in full: suite 's': its agent, prompt, deps, env_inputs or graders are not the record's" "$T/err"
assert_calls_are "$(printf 't1\nt1\nt2\nt2\nt3\nt3\nt4\nt4\nu1\nu2')"

try "EVALMAKE_NOOP_VERIFY checks a kept plan against planning: a result removed behind the counter's back is caught"
mkdeltaproject
settle
printf '{"input": "b1", "expected": "b1"}\n' >tasks/t1.json
EVALMAKE_NOOP_VERIFY=1 EVALMAKE_NOOP_DEBUG=1 emt -s
assert_rc 0
check "the kept plan was made (and agreed)" grep -q 'planned the tasks of 1 changed file alone' "$T/err"
settle
sqlite3 cache/index.db "DROP TRIGGER grades_DELETE; DELETE FROM grades WHERE key = (SELECT grade FROM cells WHERE id = 's/t3#1');"
printf '{"input": "c1", "expected": "c1"}\n' >tasks/t1.json
EVALMAKE_NOOP_VERIFY=1 emt -s
assert_rc 70
check "it says the kept plan disagrees" grep -q 'internal error: the plan a no-op record kept disagrees with planning' "$T/err"

# evalmake ARGS under strace: $nstat is how many stat calls named a file
# of tasks/ or data/, $asked 1 when it connected to a watch's socket
emstat() {
	last="evalmake $* (stats traced)"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout -k 5 120 strace -f -qq -y -e trace=newfstatat,statx,stat,lstat,connect -o "$T/strace" "$E" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	sancheck "$T/err"
	nstat=$(grep -cE '/(tasks|data)>|"(tasks|data)/' "$T/strace")
	if grep -q 'evalmake-noop-.*= 0' "$T/strace"; then asked=1; else asked=0; fi
}

try "with watch running, a plain run asks it and stats no task file; a touch, an edit it does not cover, a symlink's target are still seen"
mknoopproject
settle
bg_watch
emstat -s
assert_rc 0
checks "it asked the watch" '[ "$asked" = 1 ]'
checks "no task file stat-ed ($nstat stats)" '[ "$nstat" = 0 ]'
emt -s
assert_planned 0
assert_calls 0
# new times (utimensat alone: no open, no write, only IN_ATTRIB) change
# no content but the stat data: the watch saw it
sleep 1.1
python3 -c 'import os, time; t = time.time() - 3600; os.utime("tasks/t2.json", (t, t))'
emt -s
assert_planned 1
assert_calls 0
sleep 1.1
em -s
emt -s
assert_planned 0
# a task that is a symbolic link to a folder nobody watches: the watch
# cannot vouch for it, so every path is stat-ed again
mkdir data
printf '{"input": "d5", "expected": "d5"}\n' >data/t5.json
ln -s ../data/t5.json tasks/t5.json
waitfor 30 "grep -qsx t5 calls" || fail "watch did not run the new task"
rm -f calls
sleep 1.1
em -s
emstat -s
assert_rc 0
checks "with the symlink, the task files are stat-ed ($nstat stats)" '[ "$nstat" -ge 4 ]'
# no event in a watched folder from here to the next run
printf '{"input": "e5", "expected": "e5"}\n' >data/t5.json
emt -s
assert_planned 1
assert_calls_are "t5"
bg_watch_stop
rm -f calls
rm tasks/t5.json
settle
# a watch of suite q alone does not watch tasks/: it cannot vouch
bg_watch q
printf '{"input": "b1", "expected": "b1"}\n' >tasks/t1.json
emstat -s
assert_rc 0
assert_calls_are "t1"
checks "it stat-ed the task files itself" '[ "$nstat" -ge 4 ]'
bg_watch_stop

summary
