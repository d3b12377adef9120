#!/usr/bin/env bash
# End-to-end tests of the command line's conventions: stdout holds only
# the data asked for, help like git's, options a command does not take
# refused, -C and the Evalfile found in a parent folder, cells named as
# people type them (SUITE/TASK), explain naming changed deps files, the
# table's re-graded count, `evalmake init`, the man page and the bash
# completion.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/cli.sh
#
# Needs: bash, coreutils, jq, pgrep, timeout, groff (the man page lint).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# 1. stdout is for the data asked for

try "status --json -, --json - and check --json -: stdout is the JSON alone"
mkproject
em --json -
assert_rc 0
check "build --json -: stdout is one JSON document" jq -e .ran "$T/out"
check "build --json -: the table is on stderr" grep -q '^suite ' "$T/err"
em status --json -
assert_rc 0
checks "status --json - | jq .ran works" '[ "$(jq .ran "$T/out")" = 0 ]'
check "status --json -: the table is on stderr" grep -q '^calc ' "$T/err"
em check --json -
check "check --json -: stdout is one JSON document" jq -e .suites "$T/out"
check "check --json -: the verdict is on stderr" grep -q '^check:' "$T/err"
em check --junit -
check "check --junit -: stdout is the XML alone" grep -q '^<?xml' "$T/out"
check "check --junit -: no table on stdout" ! grep -q '^suite ' "$T/out"
em status
check "without --json -, the table is on stdout" grep -q '^suite ' "$T/out"

# ---------------------------------------------------------------------------
# 2. help like git, options refused, -C, the Evalfile in a parent folder

try "help COMMAND and COMMAND --help print that command's usage"
em help check
assert_rc 0
check "help check: its usage" grep -q '^usage: evalmake check' "$T/out"
check "help check: its options" grep -q -- '--min-score' "$T/out"
check "help check: not the general help" ! grep -q 'evalmake gc' "$T/out"
em check --help
assert_rc 0
check "check --help: its usage" grep -q '^usage: evalmake check' "$T/out"
em -f nowhere log --help
assert_rc 0
check "-f X log --help: log's usage" grep -q '^usage: evalmake log' "$T/out"
check "log --help: not gc's options" ! grep -q -- '--keep' "$T/out"
em help
assert_rc 0
check "help: the general help" grep -q 'evalmake watch' "$T/out"
em help nosuch
assert_rc 2
check "help nosuch: names it" grep -q nosuch "$T/err"
check "help is not a suite (no Evalfile asked for)" ! grep -qi 'no Evalfile' "$T/err"

try "an unknown option: one line pointing at --help"
mkproject
em --bogus
assert_rc 2
checks "one line" '[ "$(wc -l <"$T/err")" = 1 ]'
check "names the option" grep -q -- "'--bogus'" "$T/err"
check "points at --help" grep -q "see 'evalmake --help'" "$T/err"
em -Z
assert_rc 2
checks "one line for -Z" '[ "$(wc -l <"$T/err")" = 1 ]'
em status --json
assert_rc 2
checks "a missing value: one line" '[ "$(wc -l <"$T/err")" = 1 ]'
assert_calls 0

try "options a command does not take are refused, not ignored"
mkproject
for args in "status -B" "watch --json x.json" "watch -s" "log -j 2 calc/t1#1" "--jsonl" "explain -k calc/t1#1" \
	"gc --sample 2" "init -f Evalfile" "diff --junit x a.json"; do
	em $args
	[ "$rc" = 2 ] || fail "evalmake $args: exit $rc, expected 2"
	grep -q "does not take" "$T/err" || fail "evalmake $args: does not say the option is not taken"
done
assert_calls 0
[ ! -e cache ] || fail "a refused command made a cache"

try "-C DIR: run as from DIR"
mkdir proj
(cd proj && mkproject)
em -C proj status -s
assert_rc 0
em -C proj --json out.json
assert_rc 0
check "the report lands in DIR" test -f proj/out.json
check "the cache is DIR's" test -d proj/cache
em -C nowhere status
assert_rc 2

try "the Evalfile is found in a parent folder, and named on stderr"
mkproject
mkdir -p sub/deeper
cd sub/deeper
em status --json -
assert_rc 0
check "stdout is the JSON alone" jq -e .suites "$T/out"
check "says which Evalfile it uses" grep -q 'using \.\./\.\./Evalfile' "$T/err"
em calc/t1
assert_rc 0
cd "$P"
check "the cache is beside the Evalfile" test -d cache/runs
check "no cache in the subfolder" test ! -e sub/deeper/cache
em status
check "nothing said when it is here" ! grep -q using "$T/err"

try "no Evalfile here or above: exit 2"
mkdir -p a/b
cd a/b
em status
assert_rc 2
check "says so" grep -qi 'no Evalfile' "$T/err"

try "the man page lints clean and names every command"
if command -v groff >/dev/null; then
	out=$(groff -ww -man -z "$ROOT/evalmake.1" 2>&1)
	[ -z "$out" ] || fail "groff -ww: $out"
else
	fail "groff is not installed (.ci/deps)"
fi
for c in init status explain log deps watch check diff lock report gc help; do
	grep -q "^\.RI \"$c\|^\.B $c\|^\.BI \"$c\|^\.BI $c\|^\.RI \"$c " "$ROOT/evalmake.1" ||
		grep -q -- "$c" "$ROOT/evalmake.1" || fail "the man page does not name $c"
done

try "make install puts the man page and both completions in place"
make -s -C "$ROOT" install DESTDIR="$T/inst" PREFIX=/usr >"$T/out" 2>"$T/err" ||
	fail "make install failed"
for f in bin/evalmake share/man/man1/evalmake.1 share/bash-completion/completions/evalmake \
	share/zsh/site-functions/_evalmake; do
	[ -f "$T/inst/usr/$f" ] || fail "not installed: $f"
done

try "bash completion: commands, options, suites, tasks and cell ids"
mkproject
cat >"$T/comp.sh" <<EOF
source "$ROOT/completion/evalmake.bash"
COMP_WORDS=("$E" log "calc/t2#"); COMP_CWORD=2; _evalmake; echo "log: \${COMPREPLY[*]}"
COMP_WORDS=("$E" ""); COMP_CWORD=1; _evalmake; echo "first: \${COMPREPLY[*]}"
COMP_WORDS=("$E" status --js); COMP_CWORD=2; _evalmake; echo "opts: \${COMPREPLY[*]}"
COMP_WORDS=("$E" help ch); COMP_CWORD=2; _evalmake; echo "help: \${COMPREPLY[*]}"
cd /
COMP_WORDS=("$E" -C "$P" explain qu); COMP_CWORD=4; _evalmake; echo "dir: \${COMPREPLY[*]}"
EOF
bash "$T/comp.sh" >"$T/out" 2>"$T/err"
check "a cell id" grep -q '^log: calc/t2#1 calc/t2#2$' "$T/out"
check "commands and suites first" grep -qE '^first: .*\bcheck\b.*\bcalc\b' "$T/out"
check "tasks too" grep -q '^first: .*calc/t3' "$T/out"
check "no internal command" ! grep -q '__complete' "$T/out"
check "options of status" grep -q '^opts: --json$' "$T/out"
check "commands after help" grep -q '^help: check$' "$T/out"
check "targets from -C DIR" grep -q '^dir: .*quiz/q1#2' "$T/out"

try "bash completion: a task id with a blank is one word, quoted"
mkdir -p "t/my task" t/other
echo hi >"t/my task/input.txt"
echo hi >"t/my task/expected.txt"
echo a >t/other/input.txt
echo a >t/other/expected.txt
printf 'suites:\n  s: {tasks: "t/*", agent: {command: cat}}\n' >Evalfile
cat >"$T/comp.sh" <<EOF
source "$ROOT/completion/evalmake.bash"
COMP_WORDS=("$E" log "s/my"); COMP_CWORD=2; _evalmake; printf '<%s>\n' "\${COMPREPLY[@]}"
COMPREPLY=(); COMP_WORDS=("$E" log 's/my\\ task#'); COMP_CWORD=2; _evalmake; printf '[%s]\n' "\${COMPREPLY[@]}"
EOF
bash "$T/comp.sh" >"$T/out" 2>"$T/err"
check "the id whole, its blank escaped" grep -qxF '<s/my\ task>' "$T/out"
check "its cell too" grep -qxF '<s/my\ task#1>' "$T/out"
check "not split at the blank" ! grep -qxF '<task>' "$T/out"
check "a typed escape still matches" grep -qxF '[s/my\ task#1]' "$T/out"
assert_calls 0

# ---------------------------------------------------------------------------
# 3. cells named as people type them

try "log and explain SUITE/TASK: every iteration; one for a one-iteration suite"
mkproject
em
em log calc/t1
assert_rc 0
check "log shows iteration 1" grep -q '^calc/t1#1: stored result' "$T/out"
check "log shows iteration 2" grep -q '^calc/t1#2: stored result' "$T/out"
em explain calc/t1
assert_rc 0
check "explain shows iteration 1" grep -q '^calc/t1#1 is up to date' "$T/out"
check "explain shows iteration 2" grep -q '^calc/t1#2 is up to date' "$T/out"
em --iterations 1 log quiz/q2
assert_rc 0
check "one iteration: its log" grep -q '^quiz/q2#1: stored result' "$T/out"
check "one iteration: only it" ! grep -q '#2' "$T/out"
em log calc/t9
assert_rc 2
em log calc
assert_rc 2
check "a suite is not a cell" grep -q 'not a cell' "$T/err"

try "explain names the deps files that changed, and counts past a few"
mkproject
mkdir -p lib
for i in 1 2 3 4 5; do echo v1 >lib/m$i.txt; done
sed -i 's#deps: \[agent.sh, data/calc.txt\]#deps: [agent.sh, data/calc.txt, lib/*]#' Evalfile
em
sleep 0.02
echo more >>data/calc.txt
em explain calc/t1#1
check "deps changed" names_changed deps "$T/out"
check "names the file" grep -q 'deps .*CHANGED.*data/calc.txt' "$T/out"
check "not an unchanged file" ! grep -q 'agent.sh' "$T/out"
for i in 1 2 3 4 5; do echo v2 >lib/m$i.txt; done
em explain calc/t1#1
check "the first few and a count" grep -qE 'deps .*CHANGED.*: [^ ]+, [^ ]+, [^ ]+ and 3 more' "$T/out"

try "explain never marks an up-to-date cell's grade key (changed)"
mkproject
em
sed -i 's/grader: {type: exact} # calc/grader: {type: exact, ignore_case: true} # calc/' Evalfile
em
sed -i 's/grader: {type: exact, ignore_case: true} # calc/grader: {type: exact} # calc/' Evalfile
em explain calc/t1#1
check "up to date" grep -q 'is up to date' "$T/out"
check "no (changed)" ! grep -q '(changed)' "$T/out"

try "the table counts re-graded cells"
mkproject
em
sed -i 's/grader: {type: exact} # calc/grader: {type: exact, ignore_case: true} # calc/' Evalfile
em --json r.json
assert_rc 0
check "a regraded column" grep -q '^suite .* regraded' "$T/out"
check "calc: 6 cached, 6 regraded" grep -qE '^calc +[0-9.]+ +[^ ]+ +3 +6 +0 +6 +6 +0(  .*)?$' "$T/out"
assert_json r.json '.regraded' 6
assert_json r.json '.suites[0].regraded' 6
em
check "no regraded column when none was" ! grep -q regraded "$T/out"

try "lock and report say 1 suite, 1 task, 1 cell"
mkproject
em --iterations 1 quiz/q1
em --iterations 1 report --html r.html quiz/q1
check "report: singular" grep -q '1 suite, 1 task, 1 cell' "$T/out"

# ---------------------------------------------------------------------------
# 7. init

try "init && evalmake: a first score in one command"
em init
assert_rc 0
for f in Evalfile prompts/starter.md tasks/starter/add.json tasks/starter/capital.json agents/agent.sh; do
	[ -f "$f" ] || fail "init did not write $f"
done
check "the agent is executable" test -x agents/agent.sh
check "the Evalfile is commented" grep -q '^#' Evalfile
em
assert_rc 0
check "prints a score" grep -qE '^starter +0\.500' "$T/out"
em log starter/add
assert_rc 0
check "log starter/add" grep -q '^5$' "$T/out"

try "init refuses to overwrite anything, naming the file, and writes nothing"
mkdir prompts
echo mine >prompts/starter.md
em init
assert_rc 2
check "names the file" grep -q 'prompts/starter.md' "$T/err"
check "kept the file" grep -qx mine prompts/starter.md
check "wrote nothing" test ! -e Evalfile
rm prompts/starter.md
echo 'suites: {}' >evalfile
em init
assert_rc 2
check "an evalfile counts" grep -q 'evalfile' "$T/err"
check "wrote nothing either" test ! -e Evalfile

try "bash completion: a task id with a quote or a parenthesis is escaped too"
mkdir -p "t/it's" "t/a(b)"
for d in "t/it's" "t/a(b)"; do
	echo hi >"$d/input.txt"
	echo hi >"$d/expected.txt"
done
printf 'suites:\n  s: {tasks: "t/*", agent: {command: cat}}\n' >Evalfile
cat >"$T/comp.sh" <<EOF
source "$ROOT/completion/evalmake.bash"
COMP_WORDS=("$E" log "s/it"); COMP_CWORD=2; _evalmake; printf '<%s>\n' "\${COMPREPLY[@]}"
COMPREPLY=(); COMP_WORDS=("$E" log "s/a"); COMP_CWORD=2; _evalmake; printf '<%s>\n' "\${COMPREPLY[@]}"
EOF
bash "$T/comp.sh" >"$T/out" 2>"$T/err"
check "the quote escaped" grep -qxF "<s/it\\'s#1>" "$T/out"
check "the parentheses escaped" grep -qxF '<s/a\(b\)#1>' "$T/out"
check "nothing left unescaped" ! grep -qE "<s/it's|<s/a\(" "$T/out"
assert_calls 0

finish
summary
