#!/usr/bin/env bash
# A run key covers everything an agent can observe, on layouts keys.sh does
# not build: a file added where a
# deps folder or `**` glob covers it while cells run (a new input the plan
# never hashed), command-line files spelt with `..`, a dotted answer field,
# and gc's byte figures. Each case runs the real binary in a temp project
# and counts the agent's calls.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/inputs.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# three folder tasks; agent `sh agent.sh` logs its call, says it started,
# waits for ./go (at most 10 s), then prints every file of kb/
mkkbproject() {
	local t
	for t in t1 t2 t3; do
		mkdir -p "tasks/$t"
		echo "$t" >"tasks/$t/input.txt"
		echo A >"tasks/$t/expected.txt"
	done
	mkdir -p kb
	echo A >kb/a.txt
	cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
: >"started.$EVAL_TASK"
i=0
while [ ! -e go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
cat kb/*
EOF
	cat >Evalfile <<EOF
jobs: 1
suites:
  s:
    tasks: tasks/*
    agent: {command: sh agent.sh, deps: [$1]}
    grader: {type: contains}
EOF
}

try "a file added under a folder dep while a cell runs: not stored, later cells not run, no stale result once it is gone"
mkkbproject kb
: >go
em
assert_rc 0
assert_calls 3
rm -f go calls started.*
echo t1b >tasks/t1/input.txt
echo t2b >tasks/t2/input.txt
bg_em -k --json r.json
check "t1 started" waitfor 30 '[ -e started.t1 ]'
echo NEW >kb/new.txt # t1 runs, t2 is planned without it
: >go
bg_wait 60
assert_rc 1
check "t1's result is not stored" grep -q 's/t1#1: kb/new.txt was added while the cell ran; result not stored' "$T/err"
check "t2 is not run under the key planned without the new file" grep -q 's/t2#1: kb/new.txt was added since the cell was planned; not run' "$T/err"
assert_json r.json "$(cellstatus s t3 1)" '"cached"'
check "t2 never ran" ! grep -q t2 calls
# remove it again, as git checkout would: nothing made with it is served
rm kb/new.txt
rm -f calls
em --json r.json
assert_rc 0
assert_calls_are "t1
t2"
em log 's/t1#1'
check "t1's stored output is kb without the new file" ! grep -q NEW "$T/out"

try "a file added under a ** deps glob while a cell runs is not stored; a file the glob does not match is harmless"
mkdir -p kb/x/y
echo B >kb/x/y/b.txt
mkkbproject '"kb/**/*.txt"'
sed -i 's#cat kb/\*#cat kb/a.txt kb/x/y/*#' agent.sh
: >go
em
assert_rc 0
rm -f go calls started.*
echo t1b >tasks/t1/input.txt
bg_em --json r.json
check "t1 started" waitfor 30 '[ -e started.t1 ]'
echo N >kb/x/y/notes.md # not matched: not an input
: >go
bg_wait 60
assert_rc 0
assert_calls 1
rm -f go calls started.*
echo t1c >tasks/t1/input.txt
bg_em --json r.json
check "t1 started" waitfor 30 '[ -e started.t1 ]'
echo NEW >kb/x/y/new.txt # depth 3, matched
: >go
bg_wait 60
assert_rc 1
check "t1's result is not stored" grep -q 's/t1#1: kb/x/y/new.txt was added while the cell ran; result not stored' "$T/err"

try "what an agent writes where the walk does not look (__pycache__, editor droppings, .gitignore'd files) in a deps folder costs no result"
mkdir -p src/pkg/sub
echo 'def f(x): return x' >src/pkg/sub/m.py
: >src/pkg/__init__.py
: >src/pkg/sub/__init__.py
printf 'src/pkg/*.log\n' >.gitignore
for i in 1 2 3; do printf '{"id": "k%d", "input": "%d", "expected": "%d"}\n' "$i" "$i" "$i"; done >t.jsonl
cat >agent.py <<'EOF'
import sys
sys.path.insert(0, "src")
from pkg.sub import m
open("calls", "a").write("x\n")
open("src/pkg/run.log", "a").write("x\n")
open("src/pkg/.agent.py.swp", "w").write("x")
print(m.f(sys.stdin.read().strip()))
EOF
cat >Evalfile <<'EOF'
jobs: 2
suites:
  s:
    tasks: t.jsonl
    iterations: 2
    agent: {command: python3 agent.py, deps: [src]}
    grader: {type: exact}
EOF
env -u PYTHONDONTWRITEBYTECODE "$E" --json r.json >"$T/out" 2>"$T/err"
rc=$?
sancheck "$T/err"
assert_rc 0
assert_calls 6
check "python wrote its bytecode into the deps folder" test -d src/pkg/sub/__pycache__
assert_json r.json '.errors' 0
rm -f calls
em
assert_rc 0
assert_calls 0

try "a file added under a command grader's deps folder while it grades: no grade stored"
mkdir -p checks gdata
echo a >gdata/a.txt
printf '{"id": "k1", "input": "1", "expected": "1"}\n' >t.jsonl
cat >checks/grade.sh <<'EOF'
echo g >>gcalls
: >gstarted
i=0
while [ ! -e ggo ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
cat gdata/* >/dev/null
echo 1
EOF
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: t.jsonl
    agent: {command: cat}
    grader: {type: command, command: sh ./checks/grade.sh, deps: [gdata]}
EOF
bg_em
check "the grader started" waitfor 30 '[ -e gstarted ]'
echo NEW >gdata/new.txt
: >ggo
bg_wait 60
assert_rc 1
check "no grade stored" grep -q 's/k1#1: gdata/new.txt was added while the grader ran; result not stored' "$T/err"
rm gdata/new.txt gcalls
em
assert_rc 0
check "graded again" test "$(wc -l <gcalls)" = 1

try "files named on the command line through '..' are inputs: tools/../tools/a.sh, ../PROJECT/tools/b.sh"
mkdir -p tools tasks/t1
echo x >tasks/t1/input.txt
echo x >tasks/t1/expected.txt
printf 'echo "$EVAL_SUITE" >>calls\ncat\n' >tools/a.sh
cp tools/a.sh tools/b.sh
cp tools/a.sh tools/c.sh
cat >Evalfile <<EOF
suites:
  a: {tasks: tasks/*, agent: {command: sh tools/../tools/a.sh}}
  b: {tasks: tasks/*, agent: {command: sh ../$(basename "$P")/tools/b.sh}}
  c: {tasks: tasks/*, agent: {command: sh tools//c.sh}}
EOF
em
assert_rc 0
assert_calls 3
for s in a b c; do
	rm -f calls
	echo "# edited" >>"tools/$s.sh"
	em
	assert_rc 0
	assert_calls_are "$s"
done

try "a file the command's tee writes (sh ag.sh | tee last.txt) is an output: the second run is cached, not an error"
printf '{"id": "a", "input": "x", "expected": "x"}\n' >t.jsonl
printf 'echo "$EVAL_TASK" >>calls\ncat\n' >ag.sh
echo 'suites: {s: {tasks: t.jsonl, agent: {command: "sh ag.sh | tee last.txt"}, grader: {type: exact}}}' >Evalfile
em
assert_rc 0
assert_calls 1
check "tee wrote last.txt" test -s last.txt
rm -f calls
em
assert_rc 0
assert_calls 0
echo "# edited" >>ag.sh
em
assert_rc 0
assert_calls 1

try "a dotted answer field (fields: {expected: meta.gold}): hidden from the agent, fixing it calls no agent"
cat >d.jsonl <<'EOF'
{"id": "j1", "input": "alpha", "meta": {"gold": "beta", "lvl": 3}}
{"id": "j2", "input": "gamma", "meta": {"gold": "gamma", "lvl": 1}}
EOF
cat >agent.sh <<'EOF'
echo "$EVAL_TASK" >>calls
cat "$EVAL_TASK_JSON" >"seen.$EVAL_TASK"
cat
EOF
cat >Evalfile <<'EOF'
suites:
  j:
    tasks: d.jsonl
    fields: {expected: meta.gold}
    agent: {command: sh agent.sh}
    grader: {type: exact, trim: true}
EOF
em --json r.json
assert_rc 0
assert_calls 2
check "the agent saw no answer" ! grep -q gold seen.j1 seen.j2
assert_json r.json '[.suites[].tasks[].score]' '[0,1]'
rm -f calls
sed -i 's/"gold": "beta"/"gold": "alpha"/' d.jsonl
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '[.suites[].tasks[].score]' '[1,1]'

try "gc -n's byte figure is the sum of the entries it lists, and what gc then says it freed"
for i in 1 2 3; do printf '{"id": "k%d", "input": "%d", "expected": "%d"}\n' "$i" "$i" "$i"; done >t.jsonl
cat >agent.sh <<'EOF'
head -c 100000 /dev/zero >"$EVAL_OUT_DIR/blob.bin"
cat
EOF
echo 'suites: {s: {tasks: t.jsonl, iterations: 2, agent: {command: sh agent.sh}, grader: {type: exact}}}' >Evalfile
em
echo '# v2' >>agent.sh
em
em gc -n --all
assert_rc 0
check "lists 6 entries" [ "$(grep -c '^runs/' "$T/out")" = 6 ]
listed=$(awk '/^runs\// { s += $2 } END { print s }' "$T/out")
checks "the figure is the sum of the listed sizes" "grep -q '^would remove 6 cache entries, $listed bytes' '$T/out'"
check "an entry holds its 100000-byte artifact" [ "$listed" -ge 600000 ]
em gc --all
assert_rc 0
checks "gc frees what -n said" "grep -q '^removed 6 cache entries, $listed bytes' '$T/out'"

finish
summary
