#!/usr/bin/env bash
# End-to-end tests of what a cell's keys cover: `**` and folder deps, the
# files named on an agent's or a grader's command line, grader deps, and
# declared environment variables (env_inputs). Each case builds a project,
# runs the real binary, edits one input and counts the agent's calls.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/keys.sh
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# suite a: two task folders, agent `sh agents/run.sh` (a command-line
# script, not in deps), deps given by $1; suite b: one task, agent
# `sh agents/other.sh`. One iteration. Both agents log each call to calls.
mkkproject() {
	local t
	for t in a/t1 a/t2 b/u1; do
		mkdir -p "tasks/$t"
		echo "${t#*/}" >"tasks/$t/input.txt"
		echo "${t#*/}" >"tasks/$t/expected.txt"
	done
	mkdir -p agents
	cat >agents/run.sh <<'EOF'
# logs its call, answers with its input
echo "$EVAL_SUITE $EVAL_TASK" >>calls
cat
EOF
	cp agents/run.sh agents/other.sh
	cat >Evalfile <<EOF
suites:
  a:
    tasks: tasks/a/*
    agent:
      command: sh agents/run.sh
      deps: $1
  b:
    tasks: tasks/b/*
    agent: {command: sh agents/other.sh}
EOF
}

# run, expecting exit 0 and exactly N agent calls; then forget the calls
runs() {
	rm -f calls
	em "${@:2}"
	assert_rc 0
	assert_calls "$1"
}

try "deps: pkg/**/*.py: an edit at depth 1, 2 and 3 runs exactly the suite's cells"
mkdir -p pkg/a/b
echo 1 >pkg/top.py
echo 2 >pkg/a/mid.py
echo 3 >pkg/a/b/deep.py
echo notes >pkg/a/notes.txt
mkkproject '[pkg/**/*.py]'
runs 3
runs 0
echo 1b >>pkg/top.py
runs 2
echo 2b >>pkg/a/mid.py
runs 2
echo 3b >>pkg/a/b/deep.py
runs 2
echo x >>pkg/a/notes.txt
runs 0
echo new >pkg/a/b/new.py
runs 2
check "the suite's cells ran, not b's" ! grep -q '^b ' calls

try "deps: a folder is every file under it; a file added under it is an input; .git, __pycache__, junk and .gitignore'd files are not"
mkdir -p lib/x/y
echo 1 >lib/top.txt
echo 2 >lib/x/y/deep.txt
echo '*.log' >.gitignore
mkkproject '[lib]'
runs 3
echo 2b >>lib/x/y/deep.txt
runs 2
mkdir -p lib/z
echo new >lib/z/new.txt
runs 2
mkdir -p lib/.git lib/__pycache__
echo ref >lib/.git/HEAD
echo pyc >lib/__pycache__/m.pyc
echo junk >lib/top.txt~
echo log >lib/run.log
runs 0
rm lib/z/new.txt
runs 0 # back to the files of an earlier run: its results
em -n
assert_rc 0

try "tasks: a ** glob finds tasks at any depth"
mkkproject '[agents/run.sh]'
sed -i 's#tasks: tasks/b/\*#tasks: "more/**/*.json"#' Evalfile
mkdir -p more/x/y
echo '{"id": "top", "input": "1", "expected": "1"}' >more/top.json
echo '{"id": "deep", "input": "2", "expected": "2"}' >more/x/y/deep.json
runs 4 --json r.json
assert_json r.json '[.suites[] | select(.name == "b") | .tasks[].id] | sort' '["deep", "top"]'

try "deps: a glob or folder that yields no file is an error naming the place"
mkdir -p empty/.git
echo x >empty/.git/HEAD
mkkproject '[agents/run.sh, nothere/**/*.py]'
bad_input 'Evalfile:6:29: suites\.a\.agent\.deps: .nothere/\*\*/\*\.py. matches no file'
mkkproject '[empty]'
bad_input 'Evalfile:6:14: .* matches no file \(the folders it matches hold none\)'

try "an agent script named on the command line (sh agents/other.sh) is an input without deps"
mkkproject '[agents/run.sh]'
runs 3
echo '# a comment' >>agents/other.sh
runs 1
assert_calls_are "b u1"
echo '# a comment' >>agents/run.sh
runs 2
em -n
assert_rc 0

try "command-line files: an absolute path inside the project and a quoted one are inputs; an output redirection target is not"
mkkproject '[agents/run.sh]'
echo cat >'agents/my agent.sh'
sed -i "s#sh agents/other.sh#sh '$P/agents/other.sh' >out.log; sh 'agents/my agent.sh'#" Evalfile
runs 3
check "the redirection wrote out.log" test -f out.log
runs 0
echo '# x' >>agents/other.sh
runs 1
echo '# y' >>'agents/my agent.sh'
runs 1
echo changed >out.log
runs 0

# a command grader run by an interpreter; it logs its calls to gcalls
mkgrader() {
	cat >grade.sh <<'EOF'
echo g >>gcalls
echo 1
EOF
	cat >>Evalfile <<EOF
    grader:
      type: command
      command: sh grade.sh
$1
EOF
}

try "a grader script run by an interpreter (sh grade.sh): editing it re-grades with 0 agent calls"
mkkproject '[agents/run.sh]'
mkgrader ""
runs 3 --json r1.json
assert_json r1.json '.suites[] | select(.name == "b") | .score' 1
printf 'echo g >>gcalls\necho 0\n' >grade.sh
rm -f gcalls
runs 0 --json r2.json
assert_json r2.json '.suites[] | select(.name == "b") | .score' 0
check "the grader ran once" test "$(wc -l <gcalls)" = 1

try "grader deps (a ** glob): an edit re-grades with 0 agent calls"
mkdir -p rubric/x/y
echo r >rubric/x/y/r.txt
mkkproject '[agents/run.sh]'
mkgrader '      deps: [rubric/**]'
runs 3
rm -f gcalls
echo r2 >>rubric/x/y/r.txt
runs 0
check "the grader ran once" test "$(wc -l <gcalls)" = 1
em -n
assert_rc 0

# suite a declares MODEL; b declares nothing
mkenvproject() {
	mkkproject '[agents/run.sh]'
	sed -i 's#^      deps: \[agents/run.sh\]#&\n      env_inputs: [MODEL]#' Evalfile
}

try "env_inputs: a declared variable changed runs only that suite's cells; unset and empty differ; an undeclared one changes nothing"
mkenvproject
unset MODEL OTHER
runs 3
runs 0
MODEL=m1 runs 2
assert_calls_are "a t1
a t2"
MODEL=m1 runs 0
MODEL=m2 runs 2
MODEL= runs 2
runs 0 # unset again: the first run's results (unset is not empty)
MODEL= runs 0
OTHER=z MODEL=m2 runs 0

try "env_inputs: -n and explain name the variable that changed"
mkenvproject
MODEL=m1 runs 3
MODEL=m2 em -n
assert_rc 0
check "-n says env MODEL changed" grep -q 'run   a/t1#1: env MODEL changed' "$T/out"
check "b is up to date" ! grep -q 'b/u1' "$T/out"
MODEL=m2 em explain 'a/t1#1'
assert_rc 0
check "explain's headline names the variable" grep -q 'a/t1#1 would run: env MODEL changed' "$T/out"
check "explain's env line names it" grep -qE '^  env +CHANGED .*: MODEL$' "$T/out"

try "env_inputs: a value is never stored in the cache, only its hash"
mkenvproject
mkgrader '      env_inputs: [JUDGE]'
MODEL=sekret-model-4711 JUDGE=sekret-judge-0815 runs 3
checks "the run stored its inputs' hashes" '[ "$(sqlite3 cache/index.db "SELECT count(*) FROM cells")" -gt 0 ]'
checks "MODEL's value is nowhere in the cache" '! cache_has sekret-model-4711'
checks "JUDGE's value is nowhere in the cache" '! cache_has sekret-judge-0815'
rm -f gcalls
MODEL=sekret-model-4711 JUDGE=other runs 0
check "a grader variable changed re-grades (suite b, 1 cell)" test "$(wc -l <gcalls)" = 1

try "env_inputs: the agent's own env: setting is the value it sees, not evalmake's"
mkkproject '[agents/run.sh]'
sed -i 's#^      deps: \[agents/run.sh\]#&\n      env_inputs: [MODEL]\n      env: {MODEL: fixed}#' Evalfile
MODEL=m1 runs 3
MODEL=m2 runs 0

try "lock: an env_inputs change makes exactly the suite's cells stale, and says why, even without the cache"
mkenvproject
MODEL=m1 runs 3
MODEL=m1 em lock
assert_rc 0
check "the lock has suite a's env line" grep -qE '^a env [0-9a-f]{32}$' Evalfile.lock
check "no env line for b, which declares none" ! grep -q '^b env' Evalfile.lock
rm -rf cache
MODEL=m2 em check --locked
assert_rc 1
check "a's cells are stale: env_inputs changed" grep -q 'stale a/t1#1: env_inputs changed' "$T/out" "$T/err"
check "b's are not" ! grep -q 'stale b/' "$T/out" "$T/err"
MODEL=m1 em check --locked
assert_rc 0

# ---------------------------------------------------------------------------
# watch mode

exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }
until_() {
	local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	while :; do
		eval "$2" && return 0
		[ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
		nap 0.05
	done
}
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# start watch --jsonl; wait for its first line
startwatch() {
	last="evalmake watch --jsonl (background)"
	set -m
	"$E" watch --jsonl >"$T/wout" 2>"$T/werr" {NAPFD}<&- &
	WPID=$!
	set +m
	BGPIDS+=("$WPID")
	until_ 20 '[ $(nlines "$T/wout") -ge 1 ]' || fail "no first report line within 20 s"
	nap 0.2
	rm -f calls
}
# line N arrives; it ran exactly CELLS (a sorted JSON list)
lineran() {
	until_ 15 "[ \$(nlines \"\$T/wout\") -ge $1 ]" || {
		fail "no report line #$1 within 15 s"
		return
	}
	sed -n "${1}p" "$T/wout" >"$T/line.json"
	assert_json "$T/line.json" '[.suites[] | .name as $s | .tasks[] | .id as $t | .cells[] | select(.status == "ran") | "\($s)/\($t)#\(.iteration)"] | sort' "$2"
}
stopwatch() {
	kill -INT "$WPID" 2>/dev/null
	until_ 10 '! kill -0 $WPID 2>/dev/null' || {
		fail "watch did not exit"
		kill -9 "$WPID"
	}
	wait "$WPID" 2>/dev/null
	rc=$?
	assert_rc 130
	sancheck "$T/werr"
}

try "watch: saving the agent's command-line script reruns exactly its suite's cells"
mkkproject '[agents/run.sh]'
startwatch
echo '# saved' >>agents/other.sh
lineran 2 '["b/u1#1"]'
assert_calls_are "b u1"
rm -f calls
vim -e -s -N -u NONE -c 'set nobackup writebackup backupcopy=no backupskip=' -c 'call append(line("$"), "# vim")' -c wq agents/run.sh
lineran 3 '["a/t1#1", "a/t2#1"]'
assert_calls 2
stopwatch

try "watch: a file in a new folder under a ** deps glob runs the suite's cells"
mkdir -p pkg
echo 1 >pkg/top.py
mkkproject '[pkg/**/*.py]'
startwatch
mkdir -p pkg/n/m
echo new >pkg/n/m/new.py
lineran 2 '["a/t1#1", "a/t2#1"]'
assert_calls 2
rm -f calls
echo edit >>pkg/n/m/new.py
lineran 3 '["a/t1#1", "a/t2#1"]'
stopwatch

try "watch: a task in a new folder under a ** task glob is a new task"
mkkproject '[agents/run.sh]'
sed -i 's#tasks: tasks/b/\*#tasks: "more/**/*.json"#' Evalfile
mkdir -p more
echo '{"id": "top", "input": "1", "expected": "1"}' >more/top.json
startwatch
mkdir -p more/x/y
echo '{"id": "deep", "input": "2", "expected": "2"}' >more/x/y/deep.json
lineran 2 '["b/deep#1"]'
assert_calls_are "b deep"
stopwatch

try "watch: a file added under a folder dep, then deleted, runs the suite's cells each time"
mkdir -p lib/x
echo 1 >lib/x/one.txt
mkkproject '[lib]'
startwatch
echo 2 >lib/x/two.txt
lineran 2 '["a/t1#1", "a/t2#1"]'
rm -f calls
rm lib/x/two.txt
lineran 3 '[]'
assert_calls 0
stopwatch

summary
