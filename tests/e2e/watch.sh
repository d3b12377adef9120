#!/usr/bin/env bash
# End-to-end tests of `evalmake watch`: files saved the way people and
# editors save them, while the real binary watches.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/watch.sh
#
# Each case builds a project in a fresh folder (try, from lib.sh), starts
# `evalmake watch --jsonl` in the background with its stdout in $T/out
# (one JSON report per update) and its stderr in $T/err, saves files, and
# waits for report lines with bounded polling (until_), never with fixed
# sleeps for correctness. Saying that nothing happened is done with a
# sentinel: after the save that must do nothing, a real save of another
# task must produce the very next line, naming only itself. The agent
# appends "$EVAL_TASK $EVAL_ITERATION" to the project's file `calls`, so
# every case counts agent calls exactly. A case ends by Ctrl-C (SIGINT:
# exit 130) and, where it matters, by asking a fresh `evalmake -q` whether
# watch left every score up to date.
# Needs: bash 5, coreutils, jq, pgrep, timeout, perl, git, vim.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# helpers

SLOW=$(sleeper watch) # the agent's sleep: its path holds $MARK

# the project: suite a over task folders tasks/t1..t3 (prompt prompts/a.md,
# deps agent.sh), suite b over other/u1 (prompt prompts/b.md); two
# iterations; every task passes. An input holding "sleep2" or "sleep30"
# makes the agent sleep that long first. The agent forks nothing else
# (the machines running these tests may be busy).
mkwproject() {
	local i
	mkdir -p prompts
	for i in 1 2 3; do
		mkdir -p "tasks/t$i"
		echo "old$i" >"tasks/t$i/input.txt"
		echo "old$i" >"tasks/t$i/expected.txt"
	done
	mkdir -p other/u1
	echo other1 >other/u1/input.txt
	echo other1 >other/u1/expected.txt
	printf 'Q: {{input}}\n' >prompts/a.md
	printf 'Q: {{input}}\n' >prompts/b.md
	cat >agent.sh <<EOF
#!/bin/sh
# the watch tests' agent: logs its call, sleeps when asked, echoes the question
echo "\$EVAL_TASK \$EVAL_ITERATION" >>calls
out=
while IFS= read -r line; do
	case \$line in "Q: "*) out=\${line#Q: } ;; esac
done
case \$out in
*sleep30*) "$SLOW" 30 ;;
*sleep2*) "$SLOW" 2 ;;
esac
printf '%s\n' "\$out"
EOF
	chmod +x agent.sh
	cat >Evalfile <<'EOF'
cache: cache
jobs: 4
defaults:
  iterations: 2
  timeout: 60
suites:
  a:
    tasks: tasks/*
    prompt: prompts/a.md
    agent: {command: ./agent.sh, deps: [agent.sh]}
  b:
    tasks: other/*
    prompt: prompts/b.md
    agent: {command: ./agent.sh}
EOF
}

# The helpers below poll often while evalmake and its agents work, on
# machines that may be busy: they count lines and sleep with shell builtins
# (no process per poll).

# nap SECS: sleep without a process (a read that times out on a pipe that
# nobody writes)
exec {NAPFD}<> <(:)
nap() { read -r -t "$1" -u "$NAPFD" _ || :; }

# until_ SECS 'SHELL': poll every 0.05 s until it holds; 1 if it never did
until_() {
	local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	while :; do
		eval "$2" && return 0
		[ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
		nap 0.05
	done
}

# count FILE: NL = its complete lines
count() {
	local s="" nl
	[ -f "$1" ] && IFS= read -r -d '' s <"$1"
	nl=${s//[!$'\n']/}
	NL=${#nl}
}

# start `evalmake watch --jsonl ARGS` in the project; wait for its first
# line, then a moment for the watches to settle
WPID=""
startwatch() {
	last="evalmake watch --jsonl $* (background)"
	: >"$T/out"
	: >"$T/err"
	set -m # SIGINT at its default in the background job
	"$E" watch --jsonl "$@" >"$T/out" 2>"$T/err" {NAPFD}<&- &
	WPID=$!
	set +m
	BGPIDS+=("$WPID")
	WANT=1
	if ! until_ 20 'count "$T/out"; [ $NL -ge 1 ]'; then
		fail "no first report line within 20 s"
		return 1
	fi
	nap 0.2
	callmark
}

# Ctrl-C: exits 130 within $1 seconds (default 10), having printed WANT
# report lines (WANT=any: any number)
stopwatch() {
	kill -INT "$WPID" 2>/dev/null
	if ! until_ "${1:-10}" '! kill -0 $WPID 2>/dev/null'; then
		fail "watch did not exit within ${1:-10} s of SIGINT"
		kill -9 "$WPID" 2>/dev/null
	fi
	wait "$WPID" 2>/dev/null
	rc=$?
	assert_rc 130
	sancheck "$T/err"
	count "$T/out"
	[ "$WANT" = any ] || [ "$NL" = "$WANT" ] || fail "$NL report lines in all, expected $WANT"
}

# callmark: remember how many agent calls there were; newcalls prints the
# ones since, sorted
C0=0
callmark() {
	count calls
	C0=$NL
}
newcalls() {
	[ -f calls ] && tail -n +$((C0 + 1)) calls | sort
}

# the agent calls since callmark are exactly these lines, in any order
assert_newcalls() {
	local got want
	got=$(newcalls)
	want=$(printf '%s' "$1" | sort)
	[ "$got" = "$want" ] || fail "agent calls differ: expected [${want//$'\n'/, }], got [${got//$'\n'/, }]"
}

# waitcalls N [SECS]: the agent has been called N times since callmark
waitcalls() {
	until_ "${2:-10}" "count calls; [ \$((NL - C0)) -ge $1 ]" ||
		fail "fewer than $1 agent calls within ${2:-10} s"
}

# nextline [SECS]: the next report line arrives (WANT counts the lines
# expected so far); it is copied to $T/line.json
nextline() {
	WANT=$((WANT + 1))
	if ! until_ "${1:-10}" "count \"\$T/out\"; [ \$NL -ge $WANT ]"; then
		fail "no report line #$WANT within ${1:-10} s"
		: >"$T/line.json"
		return 1
	fi
	sed -n "${WANT}p" "$T/out" >"$T/line.json"
}

# no new report line (so far)
nonewline() {
	count "$T/out"
	[ "$NL" = "$WANT" ] || fail "$1: $NL report lines, expected $WANT"
}

# the cells the line says ran, as a sorted JSON list of "suite/task#k"
RANSET='[.suites[] | .name as $s | .tasks[] | .id as $t | .cells[] | select(.status == "ran") | "\($s)/\($t)#\(.iteration)"] | sort'

# jsonlist WORD...: JS = a JSON list of the words
jsonlist() {
	local w sep=""
	JS="["
	for w in "$@"; do
		JS+="$sep\"$w\""
		sep=", "
	done
	JS+="]"
}

# assert_update 'TRIGGERS' 'CELLS': $T/line.json names exactly these
# trigger paths and ran exactly these cells (space-separated lists), with
# no error
assert_update() {
	local trig cells
	# shellcheck disable=SC2086
	jsonlist $1
	trig=$JS
	# shellcheck disable=SC2086
	jsonlist $2
	cells=$JS
	jq -e --argjson trig "$trig" --argjson cells "$cells" \
		"(.trigger | sort) == (\$trig | sort) and ($RANSET) == (\$cells | sort) and .ran == (\$cells | length) and .errors == 0" \
		"$T/line.json" >/dev/null 2>&1 && return 0
	fail "update $(jq -c "{trigger, ran, errors, cells: $RANSET}" "$T/line.json" 2>&1 | cut -c1-300), expected trigger $trig, cells $cells"
}

# prove that nothing happened: after a second of quiet, still no new line
# and no call; then a real save of tasks/t3 gives the very next line,
# which names only that file and runs only t3's cells
SENT=0
sentinel() {
	nap 1
	nonewline "$1"
	assert_newcalls ""
	SENT=$((SENT + 1))
	callmark
	echo "sentinel$SENT" >tasks/t3/input.txt
	nextline && assert_update tasks/t3/input.txt "a/t3#1 a/t3#2"
	assert_newcalls "t3 1
t3 2"
	callmark
}

# atomicsave FILE TEXT: write FILE.tmp beside FILE, rename it over FILE (in
# one process, as an editor does: a batch never sees the half-done save)
cat >"$TOP/atomicsave.pl" <<'EOF'
open(my $f, ">", "$ARGV[0].tmp") or die "$ARGV[0].tmp: $!";
print $f "$ARGV[1]\n";
close($f) or die "$ARGV[0].tmp: $!";
rename("$ARGV[0].tmp", $ARGV[0]) or die "$ARGV[0]: $!";
EOF
atomicsave() {
	perl "$TOP/atomicsave.pl" "$1" "$2"
}

# after watch stopped: a fresh run agrees that every score is up to date
uptodate() {
	timeout -k 5 60 "$E" -q >/dev/null 2>"$T/q.err"
	local q=$?
	sancheck "$T/q.err"
	[ "$q" = 0 ] || fail "after watch, evalmake -q exits $q: watch left a stale score ($(timeout 60 "$E" -n 2>&1 | head -n 3 | tr '\n' ';'))"
}

# ---------------------------------------------------------------------------
# saves as people and editors do them

try "watch: the first line reports every cell with an empty trigger"
mkwproject
startwatch
sed -n 1p "$T/out" >"$T/line.json"
assert_update "" "a/t1#1 a/t1#2 a/t2#1 a/t2#2 a/t3#1 a/t3#2 b/u1#1 b/u1#2"
assert_json "$T/line.json" '[.suites[] | .name, .tasks_total, .cells_total, .score]' '["a", 3, 6, 1, "b", 1, 2, 1]'
assert_newcalls ""
stopwatch
check "every cell ran once" test "$(sort calls | uniq -d | wc -l)" = 0
check "8 calls" test "$(ncalls)" = 8

try "watch: a plain save reruns exactly that task's cells, in one line"
mkwproject
startwatch
echo new1 >tasks/t1/input.txt
nextline && assert_update tasks/t1/input.txt "a/t1#1 a/t1#2"
assert_newcalls "t1 1
t1 2"
nap 0.3
nonewline "one save, one line"
stopwatch
uptodate

try "watch: an atomic rename save reruns exactly that task's cells, in one line"
mkwproject
startwatch
atomicsave tasks/t2/input.txt new2
check "the save went through" grep -qx new2 tasks/t2/input.txt
nextline && assert_json "$T/line.json" '.trigger | index(["tasks/t2/input.txt"]) != null' true
assert_json "$T/line.json" "$RANSET" '["a/t2#1", "a/t2#2"]'
assert_json "$T/line.json" '.ran' 2
assert_newcalls "t2 1
t2 2"
nap 0.3
nonewline "one save, one line"
stopwatch
uptodate

try "watch: the trigger of an atomic rename save names the saved file, not the temporary one"
mkwproject
startwatch
atomicsave tasks/t2/input.txt new2
nextline && assert_update tasks/t2/input.txt "a/t2#1 a/t2#2"
stopwatch

try "watch: a vim save with backup and writebackup (rename) reruns exactly that task"
mkwproject
if ! command -v vim >/dev/null; then
	fail "needs vim (apt-get install vim-nox)"
else
	startwatch
	ino=$(stat -c %i tasks/t1/input.txt)
	# backupskip= : by default vim makes no backup of files under /tmp
	vim -e -s -N -u NONE -c 'set backup writebackup backupcopy=no backupskip=' \
		-c '%s/old/new/' -c 'wq' tasks/t1/input.txt </dev/null
	check "vim saved the file" grep -qx new1 tasks/t1/input.txt
	check "vim made its backup (and kept it: 'backup')" grep -qx old1 'tasks/t1/input.txt~'
	checks "vim saved through rename (a new inode)" "[ \$(stat -c %i tasks/t1/input.txt) != $ino ]"
	nextline && assert_update tasks/t1/input.txt "a/t1#1 a/t1#2"
	assert_newcalls "t1 1
t1 2"
	nap 0.3
	nonewline "one save, one line"
	callmark
	# without 'backup', vim renames the file to its backup, writes, then
	# deletes the backup
	ino=$(stat -c %i tasks/t2/input.txt)
	vim -e -s -N -u NONE -c 'set nobackup writebackup backupcopy=no backupskip=' \
		-c '%s/old/new/' -c 'wq' tasks/t2/input.txt </dev/null
	check "vim saved the file" grep -qx new2 tasks/t2/input.txt
	check "vim removed its backup" test ! -e 'tasks/t2/input.txt~'
	checks "vim saved through rename (a new inode)" "[ \$(stat -c %i tasks/t2/input.txt) != $ino ]"
	nextline && assert_update tasks/t2/input.txt "a/t2#1 a/t2#2"
	assert_newcalls "t2 1
t2 2"
	stopwatch
	uptodate
fi

try "watch: saving the same content, or touching a file, runs nothing"
mkwproject
startwatch
echo old1 >tasks/t1/input.txt
atomicsave tasks/t2/input.txt old2
touch tasks/t1/expected.txt prompts/a.md agent.sh Evalfile
sentinel "same content"
stopwatch
uptodate

try "watch: writing files no cell reads runs nothing"
mkwproject
mkdir -p docs
startwatch
echo notes >notes.txt
echo draft >prompts/unused.md
echo doc >docs/x.md
rm notes.txt
sentinel "files no cell reads"
stopwatch
uptodate

try "watch: editor swap and backup files in a task folder run nothing"
mkwproject
startwatch
for f in .input.txt.swp .input.txt.swx input.txt~ 4913 .#input.txt; do
	echo junk >"tasks/t1/$f"
	rm "tasks/t1/$f"
done
sentinel "swap and backup files"
stopwatch
uptodate

try "watch: a backup file left in a task folder: watch and a fresh run agree"
mkwproject
startwatch
echo junk >'tasks/t1/input.txt~'
sentinel "a backup file left behind"
stopwatch
uptodate

# ---------------------------------------------------------------------------
# tasks and configuration changing under watch

try "watch: a new task folder runs exactly its cells; a deleted one drops its cells"
mkwproject
mkdir "$T/stage"
printf 'new4\n' >"$T/stage/input.txt"
printf 'new4\n' >"$T/stage/expected.txt"
startwatch --full # the whole report on every line: the tasks listed are all of them
mv "$T/stage" tasks/t4
nextline && assert_update tasks/t4 "a/t4#1 a/t4#2"
assert_json "$T/line.json" '[.suites[] | .tasks_total]' '[4, 1]'
assert_newcalls "t4 1
t4 2"
callmark
rm -rf tasks/t2
# whether the drop is reported at once or with the next update, the next
# line has one task fewer and nothing ran for it
nap 1
assert_newcalls ""
count "$T/out"
if [ "$NL" -gt "$WANT" ]; then
	nextline && assert_json "$T/line.json" '[.suites[] | .tasks_total]' '[3, 1]'
	assert_json "$T/line.json" '.ran' 0
fi
echo sentinel >tasks/t3/input.txt
nextline && assert_update tasks/t3/input.txt "a/t3#1 a/t3#2"
assert_json "$T/line.json" '[.suites[] | .tasks_total]' '[3, 1]'
assert_json "$T/line.json" '[.suites[0].tasks[].id]' '["t1", "t3", "t4"]'
assert_json "$T/line.json" '.suites[0].cells_total' 6
assert_newcalls "t3 1
t3 2"
stopwatch
uptodate

try "watch: deleting a task updates the scores at once (the suite's score moves)"
mkwproject
echo wrong >tasks/t2/expected.txt # t2 fails: a's score is 2/3
startwatch
sed -n 1p "$T/out" >"$T/line.json"
assert_json "$T/line.json" '.suites[0].score * 1000 | round' 667
rm -rf tasks/t2
nextline 5 && assert_json "$T/line.json" '.suites[0].score' 1
assert_json "$T/line.json" '.suites[0].tasks_total' 2
assert_newcalls ""
stopwatch

try "watch: raising iterations in the Evalfile runs only the new cells"
mkwproject
startwatch
sed -i 's/^  iterations: 2$/  iterations: 3/' Evalfile
nextline && assert_update Evalfile "a/t1#3 a/t2#3 a/t3#3 b/u1#3"
assert_json "$T/line.json" '[.suites[].cells_total]' '[9, 3]'
assert_newcalls "t1 3
t2 3
t3 3
u1 3"
stopwatch
uptodate

try "watch: an invalid Evalfile is reported; the last good one keeps serving until fixed"
mkwproject
startwatch
cp Evalfile "$T/Evalfile.good"
# line 8 becomes bad YAML
sed -i '8s|^    tasks: tasks/\*$|    tasks: tasks/*: oops|' Evalfile
checks "the test broke line 8" "sed -n 8p Evalfile | grep -q oops"
until_ 10 "grep -q 'Evalfile:8:' '$T/err'" || fail "no error naming Evalfile:8: on stderr within 10 s"
nonewline "an invalid Evalfile"
assert_newcalls ""
echo new1 >tasks/t1/input.txt
nextline && assert_update tasks/t1/input.txt "a/t1#1 a/t1#2"
assert_newcalls "t1 1
t1 2"
callmark
sed 's/^  iterations: 2$/  iterations: 3/' "$T/Evalfile.good" >Evalfile
nextline && assert_update Evalfile "a/t1#3 a/t2#3 a/t3#3 b/u1#3"
assert_newcalls "t1 3
t2 3
t3 3
u1 3"
stopwatch
uptodate

try "watch: a prompt edit reruns exactly that suite's cells"
mkwproject
startwatch
printf 'Please answer.\nQ: {{input}}\n' >prompts/b.md
nextline && assert_update prompts/b.md "b/u1#1 b/u1#2"
assert_newcalls "u1 1
u1 2"
callmark
printf 'Answer.\nQ: {{input}}\n' >prompts/a.md
nextline && assert_update prompts/a.md "a/t1#1 a/t1#2 a/t2#1 a/t2#2 a/t3#1 a/t3#2"
assert_newcalls "t1 1
t1 2
t2 1
t2 2
t3 1
t3 2"
stopwatch
uptodate

try "watch: a git checkout of 3 task files reruns exactly those tasks"
mkwproject
printf 'cache/\ncalls\n' >.gitignore
gitc() { git -c user.name=t -c user.email=t@example.com "$@"; }
gitc init -q -b main . && gitc add -A && gitc commit -q -m base &&
	gitc checkout -q -b edit &&
	echo changed1 >tasks/t1/input.txt && echo changed2 >tasks/t2/input.txt &&
	echo changed3 >other/u1/input.txt &&
	gitc commit -q -am edit && gitc checkout -q main
check "git set up the branches" grep -qx old1 tasks/t1/input.txt
startwatch
gitc checkout -q edit
check "git checked out the edit" grep -qx changed1 tasks/t1/input.txt
waitcalls 6
# one update, or a few while git writes; together they ran the 6 cells
WANT0=$WANT
until_ 10 "count '$T/out'; [ \$NL -gt $WANT0 ] && [ \$(tail -n +$((WANT0 + 1)) '$T/out' | jq -s '[.[].ran] | add') -ge 6 ]" ||
	fail "the updates after the checkout did not run 6 cells within 10 s"
count "$T/out"
[ $((NL - WANT0)) -le 3 ] || fail "$((NL - WANT0)) updates for one checkout"
WANT=$NL
tail -n +$((WANT0 + 1)) "$T/out" | jq -s -c "[.[] | $RANSET] | add | sort" >"$T/ran.json"
assert_json "$T/ran.json" . '["a/t1#1", "a/t1#2", "a/t2#1", "a/t2#2", "b/u1#1", "b/u1#2"]'
tail -n +$((WANT0 + 1)) "$T/out" | jq -s -c '[.[].trigger[]] | unique' >"$T/trig.json"
assert_json "$T/trig.json" . '["other/u1/input.txt", "tasks/t1/input.txt", "tasks/t2/input.txt"]'
tail -n 1 "$T/out" >"$T/line.json"
assert_json "$T/line.json" '[.suites[].score * 1000 | round]' '[333, 0]'
assert_newcalls "t1 1
t1 2
t2 1
t2 2
u1 1
u1 2"
stopwatch
uptodate

try "watch: undoing an edit (content back to cached results) reports the restored scores"
mkwproject
echo wrong >tasks/t2/expected.txt # t2 fails: a's score is 2/3
startwatch
echo wrong >tasks/t2/input.txt
nextline && assert_json "$T/line.json" '.suites[0].score' 1
assert_newcalls "t2 1
t2 2"
callmark
echo old2 >tasks/t2/input.txt # back as it was: cached, nothing runs
nextline 5 && assert_json "$T/line.json" '.suites[0].score * 1000 | round' 667
assert_json "$T/line.json" '.ran' 0
assert_newcalls ""
stopwatch
uptodate

# ---------------------------------------------------------------------------
# cells running while files change; Ctrl-C; idle

try "watch: Ctrl-C during a slow agent exits 130 promptly and leaves no child"
mkwproject
startwatch
echo "slow sleep30" >tasks/t1/input.txt
waitcalls 2
until_ 5 "pgrep -f -- '$SLOW' >/dev/null" || fail "the slow agents did not start"
t0=$EPOCHREALTIME
WANT=any # the interrupted update may report what finished, or not
stopwatch 5
took=$(elapsed "$t0")
awk -v t="$took" 'BEGIN { exit !(t < 5) }' || fail "exit took ${took}s"
check "no agent left running" noproc "$SLOW"
check "no half-written cache entry" entries_whole

try "watch: a cell whose task changes while it runs is restarted with the new content"
mkwproject
printf 'new2 sleep2\n' >tasks/t1/expected.txt
printf 'other sleep2\n' >tasks/t2/expected.txt
startwatch
# t1 fails at first (old1 vs the expected new2 sleep2); t2 too
echo "new1 sleep2" >tasks/t1/input.txt
echo "other sleep2" >tasks/t2/input.txt
waitcalls 4
until_ 5 "pgrep -f -- '$SLOW' >/dev/null" || fail "the slow agents did not start"
echo "new2 sleep2" >tasks/t1/input.txt
# wait for the update where t1 holds the new content's result
until_ 20 "count '$T/out'; [ \$NL -gt $WANT ] && tail -n 1 '$T/out' | jq -e '[.suites[0].tasks[] | select(.id == \"t1\") | .cells[].score] == [1, 1]' >/dev/null" ||
	fail "no update with t1's new result within 20 s"
count "$T/out"
WANT=$NL
tail -n 1 "$T/out" >"$T/line.json"
assert_json "$T/line.json" "[$(cellstatus a t1 1), $(cellstatus a t1 2)]" '["ran", "ran"]'
assert_json "$T/line.json" "[$(cellscore a t2 1), $(cellscore a t2 2)]" '[1, 1]'
assert_json "$T/line.json" '.errors' 0
# t1 started twice per iteration; t2, which the second save did not touch,
# ran once per iteration
assert_newcalls "t1 1
t1 1
t1 2
t1 2
t2 1
t2 2"
stopwatch
timeout 60 "$E" log 'a/t1#1' >"$T/log.out" 2>&1
check "the stored output is the new content's" grep -q 'new2 sleep2' "$T/log.out"
check "... not the old one's" ! grep -q 'new1 sleep2' "$T/log.out"
uptodate

try "watch: on a terminal, an update shows the trigger, the score's move and what broke, expected vs got"
mkwproject
last="evalmake watch (background)"
set -m
"$E" watch >"$T/out" 2>"$T/err" {NAPFD}<&- &
WPID=$!
set +m
BGPIDS+=("$WPID")
until_ 20 "grep -q '^watching' '$T/out'" || fail "no 'watching' line within 20 s"
nap 0.2
echo new1 >tasks/t1/input.txt # t1 now fails: expected old1
until_ 10 "grep -q 'broke' '$T/out'" || fail "no 'broke' line within 10 s"
nap 0.2
check "the trigger is named" grep -q 'tasks/t1/input.txt' "$T/out"
check "suite a went down by a third" grep -qE '^ +a +0\.667 .*down -0\.333' "$T/out"
check "t1 broke, expected vs got on one line" grep -qx '    broke a/t1  expected "old1", got "new1"' "$T/out"
echo old1 >tasks/t1/input.txt # back: cached, fixed
until_ 10 "grep -q 'fixed a/t1' '$T/out'" || fail "no 'fixed a/t1' line within 10 s"
WANT=any
stopwatch

try "watch: idle costs no CPU"
mkwproject
startwatch
cpu() { awk '{ print $14 + $15 }' "/proc/$WPID/stat"; }
c1=$(cpu)
nap 2
c2=$(cpu)
[ $((c2 - c1)) -le 3 ] || fail "watch used $((c2 - c1)) clock ticks in 2 s of idleness"
stopwatch

finish
summary
