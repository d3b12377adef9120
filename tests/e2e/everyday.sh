#!/usr/bin/env bash
# Everyday use, walked as a new user would: what that walk found beyond
# cli.sh, logs.sh, live.sh and check.sh.
# Every option `evalmake --help` and `evalmake help COMMAND` name is in
# the man page and offered by the bash and zsh completion (with --executor's
# values); options that a combination would ignore (-n/-q with --json,
# watch --full without --jsonl, two outputs on stdout) are refused, and a
# refusal names a build among the commands taking an option; each
# command's help says what its options do for it; singular words for one
# cell; watch --serve ADDR without a port; explain for a removed deps file;
# the no-Evalfile error names init; HEAD on the live view; a mistyped
# command named as one; diff and --baseline through a pipe or stdin; a
# partial score marked in check's gate lines and Markdown.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/everyday.sh
#
# Needs: bash, coreutils, jq, pgrep, timeout, groff, curl; zsh (its completion
# is tried when it is installed: .ci/deps installs it).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

# every option named in the general help and in each command's help
helpoptions() {
	{
		"$E" --help
		for c in $("$E" __complete commands); do "$E" help "$c"; done
	} | grep -oE -- '(^|[ [(])(--[a-z][-a-z]*|-[A-Za-z])\b' | grep -oE -- '--?[A-Za-z][-a-z]*' | sort -u
}

try "every option in the help is in the man page"
command -v groff >/dev/null || fail "groff is not installed (.ci/deps)"
groff -man -Tascii -P-c -P-b -P-u "$ROOT/evalmake.1" >"$T/man" 2>/dev/null
for o in $(helpoptions); do
	grep -qE -- "(^|[^-a-z])$o([^-a-z]|\$)" "$T/man" || fail "the man page does not name $o"
done
for c in $("$E" __complete commands); do
	grep -qE "^ +$c\b|^ +\(none\)" "$T/man" || fail "the man page has no entry for $c"
done

try "every option in the help is offered by the completion"
{
	for c in "" $("$E" __complete commands); do "$E" __complete options $c; done
} | sort -u >"$T/comp"
for o in $(helpoptions); do
	[ "$o" = -h ] && continue # -h is --help, which is offered
	grep -qx -- "$o" "$T/comp" || fail "no completion offers $o"
done
# each command's own: what help COMMAND lists completes after it
for c in $("$E" __complete commands); do
	"$E" __complete options "$c" >"$T/c"
	for o in $("$E" help "$c" | sed -n '/^options:/,/^$/p' | grep -oE '^  --?[A-Za-z][-a-z]*'); do
		grep -qx -- "$o" "$T/c" || fail "help $c lists $o, its completion does not offer it"
	done
done
# the long spellings too
"$E" __complete options log >"$T/c"
check "log --raw" grep -qx -- --raw "$T/c"
"$E" __complete options >"$T/c"
check "--dry-run" grep -qx -- --dry-run "$T/c"

try "bash completion: the values of --executor, not targets"
mkproject
cat >"$T/comp.sh" <<EOF
source "$ROOT/completion/evalmake.bash"
COMP_WORDS=("$E" --executor ""); COMP_CWORD=2; _evalmake; echo "executor: \${COMPREPLY[*]}"
COMP_WORDS=("$E" check --shard ""); COMP_CWORD=3; _evalmake; echo "shard: \${COMPREPLY[*]}"
COMP_WORDS=("$E" --vers); COMP_CWORD=1; _evalmake; echo "version: \${COMPREPLY[*]}"
EOF
bash "$T/comp.sh" >"$T/out" 2>"$T/err"
check "--executor: slurm and local" grep -qx 'executor: slurm local' "$T/out"
check "--shard: its value is typed, no target offered" grep -qx 'shard: ' "$T/out"
check "--version" grep -qx 'version: --version' "$T/out"

try "zsh completion loads and completes a cell id"
if command -v zsh >/dev/null; then
	mkproject
	cat >"$T/comp.zsh" <<EOF
compadd() { [[ \$1 == -- ]] && shift; print -r -- "compadd: \$*"; }
_files() { print -r -- files; }
source "$ROOT/completion/_evalmake" >/dev/null
words=("$E" log "calc/t2#"); CURRENT=3; PREFIX="calc/t2#"; _evalmake
words=("$E" --executor ""); CURRENT=3; PREFIX=""; _evalmake
EOF
	zsh -f "$T/comp.zsh" >"$T/out" 2>"$T/err"
	check "a cell id" grep -q '^compadd: .*calc/t2#2' "$T/out"
	check "--executor: slurm and local" grep -qx 'compadd: slurm local' "$T/out"
else
	echo "# zsh is not installed: its completion is not tried" >&2
fi

try "-n and -q with --json are refused: no report is written"
mkproject
em
for args in "-n --json r.json" "-q --json r.json" "-n --json -"; do
	em $args
	[ "$rc" = 2 ] || fail "evalmake $args: exit $rc, expected 2"
	checks "evalmake $args: one line" '[ "$(wc -l <"$T/err")" = 1 ]'
	check "evalmake $args: names --json" grep -q -- '--json' "$T/err"
	check "evalmake $args: nothing on stdout" test ! -s "$T/out"
done
check "no report written" test ! -e r.json

try "watch --full without --jsonl is refused"
mkproject
em watch --full
assert_rc 2
check "says it goes with --jsonl" grep -q -- '--full.*--jsonl' "$T/err"
assert_calls 0

try "check: two outputs on stdout are refused"
mkproject
for args in "--json - --markdown -" "--junit - --json -" "--markdown - --junit -"; do
	em check $args
	[ "$rc" = 2 ] || fail "check $args: exit $rc, expected 2"
	check "check $args: says stdout" grep -q 'stdout' "$T/err"
done
assert_calls 0
[ ! -e cache ] || fail "a refused check made a cache"

try "a refused option names a build among the commands that take it"
mkproject
em status -B
assert_rc 2
check "status -B: a build takes it" grep -q 'it is an option of a build, watch, check' "$T/err"
em status -q
assert_rc 2
check "status -q: a build takes it" grep -q 'it is an option of a build;' "$T/err"
em log -r
assert_rc 2
em status --serve
check "--serve: not a build's" grep -q 'status does not take --serve (it is an option of watch;' "$T/err"

try "each command's help says what its options do for it"
em help gc
check "gc -n: lists what would go" grep -qE '^  -n +.*(list|would go)' "$T/out"
check "gc -n: not a build's dry run" ! grep -q 'what would run' "$T/out"
check "gc -v: not cells as they finish" ! grep -q 'every cell as it finishes' "$T/out"
em help export
check "export --min-score: keeps cells" grep -qE '^  --min-score X +keep' "$T/out"
em help diff
check "diff takes no TARGET" ! grep -q 'A TARGET is' "$T/out"
em help lock
check "lock: no --sample (the lock covers every cell)" ! grep -q -- '--sample' "$T/out"
em help init
check "init: no trailing blank" ! grep -q ' $' "$T/out"
em --help
checks "gc once in the general help" '[ "$(grep -c "^ *evalmake gc" "$T/out")" = 1 ]'

try "lock --sample is refused as an option lock does not take"
mkproject
em lock --sample 1
assert_rc 2
check "does not take" grep -q 'lock does not take --sample' "$T/err"

try "one cell: singular words (partial, JUnit's error message, a stale lock)"
cat >Evalfile <<'EOF2'
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./a.sh}
    grader: {type: exact}
    threshold: 0.5
EOF2
echo '{"id": "a", "input": "x", "expected": "ok"}' >t.jsonl
printf '#!/bin/sh\ncat >/dev/null\necho no >&2\nexit 3\n' >a.sh
chmod +x a.sh
em check --junit j.xml
assert_rc 1
check "partial: 0 of 1 cell scored" grep -q 'partial: 0 of 1 cell scored' "$T/out"
check "JUnit: 1 of 1 cell errored" grep -q 'message="1 of 1 cell errored"' j.xml
printf '#!/bin/sh\ncat >/dev/null\necho ok\n' >a.sh
em
em lock
assert_rc 0
echo '{"id": "a", "input": "y", "expected": "ok"}' >t.jsonl
em
em check --locked
assert_rc 1
check "a stale lock: its 1 gate" grep -q 'pass its 1 gate)' "$T/out"

try "watch: a bad target at start is an error, with no 'last good configuration' to keep"
mkproject
em watch nosuch
assert_rc 2
check "names the target" grep -q "no suite 'nosuch'" "$T/err"
check "no last good configuration" ! grep -q 'last good configuration' "$T/err"

try "watch --serve ADDR without a port: the address, not a target"
mkproject
for addr in 127.0.0.1 localhost; do
	bg_em watch --jsonl --serve $addr
	waitfor 20 "[ -s '$T/bg$nbg.out' ] || ! kill -0 $bgpid 2>/dev/null" || fail "--serve $addr: no first line"
	kill -INT "$bgpid" 2>/dev/null
	bg_wait 10
	[ "$rc" = 130 ] || fail "--serve $addr: exit $rc, expected 130 (a Ctrl-C)"
	check "--serve $addr: serves on 127.0.0.1" grep -q 'live view at http://127\.0\.0\.1:' "$T/err"
	check "--serve $addr: not a target" ! grep -q 'no suite' "$T/err"
done

try "explain: deps changed by a removed file says so, rather than naming nothing"
mkproject
mkdir -p lib
for i in 1 2; do echo v1 >lib/m$i.txt; done
sed -i 's#deps: \[agent.sh, data/calc.txt\]#deps: [agent.sh, data/calc.txt, lib/*]#' Evalfile
em
rm lib/m2.txt
em explain calc/t1#1
check "deps changed" grep -q 'deps .*CHANGED' "$T/out"
check "says no file is newer: one was removed or renamed" grep -q 'deps .*CHANGED.*: .*removed' "$T/out"

try "no Evalfile: the error points a new user at evalmake init"
em
assert_rc 2
check "names evalmake init" grep -q 'evalmake init' "$T/err"
checks "one line" '[ "$(wc -l <"$T/err")" = 1 ]'

try "help lock, deps and diff say what they take"
em help lock
check "lock takes no TARGET" ! grep -q 'TARGET' "$T/out"
em help deps
check "deps -B: replaces the stored result" grep -qE '^  -B +.*replace' "$T/out"
em help diff
check "diff --json: the differences" grep -qE '^  --json FILE +.*differences' "$T/out"
em status --help
check "status --json: the JSON report" grep -qE '^  --json FILE +write the JSON report' "$T/out"

try "the live view answers HEAD as GET without a body, and a 405 says what is allowed"
mkproject
bg_em watch --jsonl --serve
waitfor 20 "[ -s '$T/bg$nbg.out' ] && grep -q 'live view at' '$T/bg$nbg.err'" || fail "no URL and first line"
URL=$(grep -o 'http://[^ ]*' "$T/bg$nbg.err" | head -n 1)
curl -s -I --max-time 10 "$URL" >"$T/head" 2>&1
check "HEAD /: 200" grep -q '^HTTP/1.1 200' "$T/head"
curl -s -I --max-time 10 "${URL}events" >"$T/head" 2>&1
check "HEAD /events: 200, and it ends" grep -q '^HTTP/1.1 200' "$T/head"
curl -s -i --max-time 10 -X POST "$URL" >"$T/post" 2>&1
check "POST: 405" grep -q '^HTTP/1.1 405' "$T/post"
check "POST: Allow names GET and HEAD" grep -qi '^Allow: GET, HEAD' "$T/post"
kill -INT "$bgpid" 2>/dev/null
bg_wait 10
assert_rc 130

try "a mistyped command is named as one, as git does, not as a missing suite"
mkproject
em stauts
assert_rc 2
check "stauts: did you mean status" grep -q "did you mean 'evalmake status'" "$T/err"
checks "one line" '[ "$(wc -l <"$T/err")" = 1 ]'
em logg calc/t1
assert_rc 2
check "logg: did you mean log" grep -q "did you mean 'evalmake log'" "$T/err"
em version
assert_rc 2
check "version: --version" grep -q "evalmake --version" "$T/err"
em calcc
assert_rc 2
check "a suite's typo is still a suite's" grep -q "did you mean 'calc'" "$T/err"
em t1
assert_rc 2
check "a task id is not taken for a command" ! grep -q "evalmake gc" "$T/err"
assert_calls 0

try "diff and check --baseline read a report through a pipe or stdin (-), as git users pass one"
mkproject
em --json old.json
assert_rc 0
em diff <(cat old.json)
assert_rc 0
check "diff <(...): the suites" grep -q '^calc ' "$T/out"
em diff - <old.json
assert_rc 0
check "diff -: the suites" grep -q '^calc ' "$T/out"
em check --baseline <(cat old.json)
assert_rc 0
check "check --baseline <(...)" grep -q 'check: passed' "$T/out"
em diff - </dev/null
assert_rc 2
check "nothing on stdin: not a report, said so" grep -q 'not an evalmake JSON report' "$T/err"

try "check: a score from part of a suite says partial in its gate lines and the Markdown summary"
cat >Evalfile <<'EOF2'
keep_going: true
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./a.sh}
    threshold: 0.5
EOF2
for i in 1 2 3 4 5 6 7 8 9 10; do echo "{\"id\": \"t$i\", \"input\": \"$i\", \"expected\": \"ok\"}"; done >t.jsonl
printf '#!/bin/sh\nread x\n[ "$x" = 1 ] && { echo ok; exit 0; }\nexit 4\n' >a.sh
chmod +x a.sh
em check --markdown m.md
assert_rc 1
check "the threshold gate's line says partial" grep -qE '^ok +s +1\.000 n/a \(partial\) +threshold 0\.5' "$T/out"
check "the Markdown score says partial" grep -q '^| s | 1.000 (partial) |' m.md

summary
