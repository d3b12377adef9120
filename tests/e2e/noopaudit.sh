#!/usr/bin/env bash
# An audit of no-op records (report/noop.h): inputs of the plan or of the
# printed table that a replay must not miss. Every run here checks a record
# that would be replayed against planning (EVALMAKE_NOOP_VERIFY: exit 70
# when they disagree), so a stale replay fails the case; records are then
# kept of files older than 20 ms.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/noopaudit.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
export EVALMAKE_NOOP_VERIFY=1

if ! command -v sqlite3 >/dev/null; then
	echo "noopaudit.sh: needs sqlite3 (.ci/deps installs them)" >&2
	exit 2
fi

# evalmake ARGS, after the verification margin: no record may disagree
emv() {
	sleep 0.05
	em "$@"
	[ "$rc" = 70 ] && fail "a no-op record held that planning disagrees with (a stale replay)"
	return 0
}

# a record of the results as they are now is kept
assert_record() {
	local n
	n=$(sqlite3 cache/index.db "SELECT count(*) FROM noops, meta WHERE meta.k = 'results' AND noops.results = meta.v")
	[ "${n:-0}" -ge 1 ] || fail "no no-op record was kept"
}

# one suite s over tasks/*.json, graded exact; its agent echoes the input
mkauditproject() {
	mkdir -p tasks
	printf '{"input": "a1", "expected": "a1"}\n' >tasks/t1.json
	echo 'echo "$EVAL_TASK" >>calls; cat' >agent.sh
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks/*.json
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
EOF
}

try "a failing task's output shown from its run entry on disk: a deleted entry is not replayed as it was"
mkauditproject
# past 256 KiB the run is stored as a folder under runs/, not in the index
cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
echo "big answer"; head -c 300000 /dev/zero | tr '\0' x; echo
EOF
emv -s
assert_rc 0
emv
assert_rc 0
check "the table shows the stored output" grep -q 'FAIL s/t1 .*got "big answer' "$T/out"
assert_record
check "the run is a folder under runs/" sh -c 'ls -d cache/runs/*/* >/dev/null'
rm -rf cache/runs/*
emv
assert_rc 0
check "the table shows the output is gone" grep -q 'FAIL s/t1 .*got "?"' "$T/out"
emv
assert_rc 0
check "again" grep -q 'FAIL s/t1 .*got "?"' "$T/out"
assert_calls 1

try "a command word through a symbolic link to a folder: retargeted, the same file (a hard link) moves into the project"
mkauditproject
mkdir inner "$T/outside"
echo 'echo "$EVAL_TASK" >>calls; cat' >inner/run.sh
ln inner/run.sh "$T/outside/run.sh"
ln -s "$T/outside" tools
sed -i 's|command: sh agent.sh|command: sh tools/run.sh|' Evalfile
emv -s
emv -s
assert_rc 0
assert_record
rm -f calls
# tools/run.sh is now a project file: part of the run key, as deps are
ln -sfn inner tools
emv -s
assert_rc 0
assert_calls_are "t1"

# wait (up to 10 s) for the watch to report more than $1 lines
watchlines() { wc -l <"$T/watch.out" | tr -d ' '; }
waitwatch() { waitfor 10 "[ \$(watchlines) -gt $1 ]" || true; }

# a record kept and the watch started on it: its first answer stats,
# then a record the watch vouches for
watched_record() {
	emv -s
	bg_watch
	emv -s
	emv -s
	assert_rc 0
	assert_record
}

try "with watch running: a watched tasks folder renamed away and another put in its place is watched anew"
mkauditproject
mkdir other
printf '{"input": "b1", "expected": "b1"}\n' >other/t1.json
watched_record
n=$(watchlines)
mv tasks tasks.old
mv other tasks
waitwatch "$n"
emv -s
emv -s
assert_rc 0
n=$(watchlines)
# the watch's old descriptor follows tasks.old: this edit is seen only
# when "tasks" is watched again
printf '{"input": "c1", "expected": "c1"}\n' >tasks/t1.json
waitwatch "$n"
emv
assert_rc 0
check "the table has the task's new score" grep -qE '^s +1\.000 ' "$T/out"
bg_watch_stop

try "with watch running: a prompt in a folder named by a symbolic link, the link retargeted, then the new target edited"
mkauditproject
mkdir A B
echo '{{input}}' >A/prompt.md
echo 'B {{input}}' >B/prompt.md
ln -s A pd
sed -i 's|tasks: tasks/\*.json|&\n    prompt: pd/prompt.md|' Evalfile
sed -i 's/type: exact, trim: true/type: contains/' Evalfile
watched_record
n=$(watchlines)
ln -sfn B pd
waitwatch "$n"
# run with the new prompt, keep a record, and have the watch vouch for it
emv -s
emv -s
assert_record
rm -f calls
emv -s
echo 'C {{input}}' >B/prompt.md
sleep 0.3
emv -s
assert_rc 0
checks "the prompt's edit ran the task again" 'grep -qx t1 calls'
bg_watch_stop

try "with watch running: the project folder moved away and a copy put in its place is not vouched for"
mkauditproject
watched_record
cd "$T" || exit 2
mv p p.old
cp -a p.old p
cd p || exit 2
printf '{"input": "d1", "expected": "zz"}\n' >tasks/t1.json
emv
assert_rc 0
check "the copy's edited task fails" grep -q 'FAIL s/t1' "$T/out"
cd "$T/p.old" || exit 2
bg_watch_stop

try "inputs found sound: each change below is planned, never replayed stale"
mkauditproject
mkdir -p lib/a/b tasks/f1 data
echo one >lib/a/b/x.txt
printf 'in' >tasks/f1/input
printf 'in' >tasks/f1/expected
printf '{"id": "g1", "input": "g", "expected": "g"}\n' | gzip >data/g.jsonl.gz
printf 'id,input,expected\nr1,r,r\n' >data/d.csv
echo '{{input}}' >prompt.md
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: [tasks/*, data/g.jsonl.gz, data/d.csv]
    prompt: prompt.md
    agent: {command: sh agent.sh, deps: ["lib/**"], env_inputs: [MODE]}
    grader: {type: exact, trim: true}
EOF
emv -s
emv -s
assert_record
step() {
	emv
	assert_rc 0
	check "$1" grep -qE "$2" "$T/out"
	emv
	assert_rc 0
	check "$1 (replayed)" grep -qE "$2" "$T/out"
}
printf 'out' >tasks/f1/expected
step "a folder task's expected file" 'FAIL s/f1 .*expected "out"'
printf 'in' >tasks/f1/expected
step "back" '^s +1\.000 '
printf '{"id": "g1", "input": "g", "expected": "h"}\n' | gzip >data/g.jsonl.gz
step "a .gz dataset" 'FAIL s/g1'
printf 'id,input,expected\nr1,r,q\n' >data/d.csv
step "a CSV dataset" 'FAIL s/r1'
ln tasks/t1.json hard.json
printf '{"input": "a1", "expected": "no"}\n' >hard.json
step "a task edited through a hard link" 'FAIL s/t1'
chmod 000 tasks/t1.json
if ! cat tasks/t1.json >/dev/null 2>&1; then
	emv
	assert_rc 2
	check "an unreadable task is an error" grep -q 'tasks/t1.json' "$T/err"
fi
chmod 644 tasks/t1.json
rm -f calls
echo two >lib/a/b/y.txt
step "a new file deep under a deps '**'" 'FAIL s/t1'
checks "the deps change ran the cells" '[ "$(wc -l <calls)" -ge 4 ]'
rm -f calls
MODE=b emv -s
MODE=b emv -s
MODE= emv -s
MODE= emv -s
checks "MODE set, then empty: each ran the cells once" '[ "$(wc -l <calls)" = 8 ]'
rm -f calls
emv -s
checks "MODE unset again: the cells of unset are stored" '[ ! -s calls ]'
cp Evalfile evalfile2
mv Evalfile evalfile
emv -s
emv -s
sed 's/^  s:/  s2:/' evalfile2 >Evalfile
step "an Evalfile created beside evalfile is the one used" 'FAIL s2/t1'
mkdir sub
cd sub || exit 2
step "from a subfolder" 'FAIL s2/t1'
cd .. || exit 2
rm -f calls

summary
