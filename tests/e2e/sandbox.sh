#!/usr/bin/env bash
# End-to-end tests of `sandbox:` on agents and command graders: the real
# bubblewrap, a real loopback listener, real files outside the project.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/sandbox.sh
#
# The escape attempts are made twice: unsandboxed first (each must succeed,
# so the attempt is real), then sandboxed (each must be blocked). Where
# bwrap cannot create namespaces, the cases that need it are skipped with a
# SKIP line and counted in the summary; the cases checking evalmake's
# error for that machine still run.
# Needs: bash, coreutils, jq, python3, bubblewrap (bash .ci/deps).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ! command -v python3 >/dev/null; then
	echo "sandbox.sh: needs python3 (bash .ci/deps installs it)" >&2
	exit 2
fi

nskip=0
canbwrap=1
why=""
if ! command -v bwrap >/dev/null; then
	canbwrap=0
	why="bwrap is not installed (bash .ci/deps installs bubblewrap)"
elif ! why=$(bwrap --ro-bind / / --proc /proc --dev /dev --unshare-pid --unshare-net -- /bin/true 2>&1); then
	canbwrap=0
fi
if [ "$canbwrap" = 0 ]; then
	echo "SKIP: bwrap cannot create namespaces here: ${why:-it failed without a message}"
fi

# needbwrap "case": false (and counted as skipped) when bwrap cannot run
needbwrap() {
	[ "$canbwrap" = 1 ] && return 0
	echo "SKIP: $1 (bwrap cannot create namespaces here)"
	nskip=$((nskip + 1))
	return 1
}

# the ran column of a suite in the table on stdout
ran() {
	awk -v s="$1" '$1 == s { print $6 }' "$T/out"
}

# a folder outside the project and outside /tmp (which the sandbox
# replaces anyway): the home folder's stand-in and a secret in it
VARTMP=$(mktemp -d /var/tmp/evalmake-sbx.XXXXXX) || exit 2
SERVER=""
trap 'rm -rf "$VARTMP"; [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; cleanup' EXIT
printf 'HOMESECRET\n' >"$VARTMP/secret"
export HOME=$VARTMP

# a loopback listener the agents try to reach, stopped by pid at the end
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TOP/www"
echo served >"$TOP/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$TOP/www" "$PORT" >/dev/null 2>&1 &
SERVER=$!
waitfor 10 "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)' 2>/dev/null" ||
	echo "sandbox.sh: the listener on 127.0.0.1:$PORT did not start" >&2
export PORT

# the escape attempts, one line each: "NAME: done" or "NAME: blocked"
ATTEMPTS='r() { if (eval "$2") >/dev/null 2>&1; then echo "$1: done"; else echo "$1: blocked"; fi; }
r write-project "echo x >pwned"
r read-outside "grep -q OUTSIDESECRET \"$OUTSIDE\""
r read-home "grep -q HOMESECRET \"$HOME/secret\""
r read-cache "grep -rq CACHESECRET cache"
r connect "python3 -c \"import socket; socket.create_connection((\\\"127.0.0.1\\\", $PORT), 3)\""
r write-tmp "echo x >/tmp/evalmake-sbx-$MARK && test -f /tmp/evalmake-sbx-$MARK"
r write-scratch "echo w >\"$SCRATCH/w.txt\""'

# mkescape AGENTSANDBOX [GRADERSANDBOX]: suite plain (unsandboxed, its
# output in the cache holds CACHESECRET) and suite s whose agent (and
# grader) make the attempts; "" leaves the key out
mkescape() {
	mkdir -p tasks/t1
	printf 'hello\n' >tasks/t1/input.txt
	printf '%s\n' "$ATTEMPTS" >attempts.sh
	{
		printf '%s\n' "$ATTEMPTS"
		echo 'r read-task "grep -q hello \"$EVAL_TASK_PATH/input.txt\""'
		echo 'r write-out "echo art >\"$EVAL_OUT_DIR/a.txt\""'
	} >agent.sh
	# the grader prints the attempts on stderr (its log) and scores 1
	cat >grade.sh <<-'EOF'
		sh attempts.sh >&2
		echo 1
	EOF
	{
		echo "suites:"
		echo "  plain:"
		echo "    tasks: tasks/*"
		echo "    agent: {command: 'echo CACHESECRET | tee \"\$EVAL_OUT_DIR/s\"'}" # an artifact: a file in cache/runs
		echo "    grader: {type: command, command: echo 1}"
		echo "  s:"
		echo "    tasks: tasks/*"
		echo "    agent:"
		echo "      command: sh agent.sh"
		[ -n "$1" ] && echo "      sandbox: $1"
		echo "    grader:"
		echo "      type: command"
		echo "      command: sh grade.sh"
		[ -n "${2:-}" ] && echo "      sandbox: $2"
	} >Evalfile
	mkdir -p "$T/outside" "$T/scratch"
	printf 'OUTSIDESECRET\n' >"$T/outside/secret"
	export OUTSIDE=$T/outside/secret SCRATCH=$T/scratch
}

# the agent's part of the log of s/t1#1 (the grader's comes after "== grade")
agentsaid() {
	"$E" log 's/t1#1' 2>&1 | sed '/^== grade/,$d' >"$T/log"
	cat "$T/log"
}

# said NAME done|blocked: the agent's output has "NAME: WHAT"
said() {
	grep -qx "$1: $2" "$T/log" || fail "expected '$1: $2' in the cell's log; got: $(grep -E "^$1:" "$T/log" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------
try "unsandboxed, every escape attempt works (so the attempts are real)"
mkescape ""
em
assert_rc 0
agentsaid >/dev/null
for a in write-project read-outside read-home read-cache connect write-scratch write-tmp read-task write-out; do
	said "$a" done
done
rm -f /tmp/evalmake-sbx-"$MARK"

if needbwrap "sandboxed agent blocked"; then
	try "sandbox: true blocks writing the project, reading outside it, the cache's entries and the loopback port"
	mkescape true true
	em -v # -v traces unsandboxed agents; a sandboxed one runs untraced
	assert_rc 0
	agentsaid >/dev/null
	for a in write-project read-outside read-home read-cache connect write-scratch; do
		said "$a" blocked
	done
	# its own: a private /tmp, its task copy, EVAL_OUT_DIR
	for a in write-tmp read-task write-out; do
		said "$a" done
	done
	check "the project was not written" test ! -e pwned
	check "/tmp was private" test ! -e /tmp/evalmake-sbx-"$MARK"
	checks "the artifact was kept" 'test -n "$(find cache/runs -path "*/artifacts/a.txt")"'
	check "the listener is still up" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 3)"
fi

if needbwrap "sandboxed grader blocked"; then
	try "a sandboxed command grader is blocked the same way"
	mkescape "" true
	echo 'echo hi' >agent.sh
	em
	assert_rc 0
	# the grader's log comes after the agent's lines: the last of each name
	"$E" log 's/t1#1' 2>/dev/null | sed -n '/^== grade/,$p' >"$T/log"
	for a in write-project read-outside read-home read-cache connect write-scratch; do
		said "$a" blocked
	done
	said write-tmp done
	check "the project was not written" test ! -e pwned
fi

if needbwrap "network and writable"; then
	try "network: true reaches the loopback port; a writable path is writable, the rest still is not"
	mkescape "{network: true, writable: [$T/scratch]}" true
	em
	assert_rc 0
	agentsaid >/dev/null
	said connect done
	said write-scratch done
	check "the scratch file was written" test -f "$T/scratch/w.txt"
	for a in write-project read-outside read-home read-cache; do
		said "$a" blocked
	done

	try "a writable folder inside the project (relative) is writable"
	mkescape "{writable: [out]}" true
	mkdir out
	sed -i 's|^r write-scratch.*|r write-scratch "echo w >out/w.txt"|' agent.sh
	em
	assert_rc 0
	agentsaid >/dev/null
	said write-scratch done
	said write-project blocked
	said connect blocked
	check "out/w.txt was written" test -f out/w.txt
fi

if needbwrap "run and grade keys"; then
	try "the sandbox is in the run key (agent) and the grade key (grader)"
	mkescape true
	em
	assert_rc 0
	checks "first run ran s" '[ "$(ran s)" = 1 ]'
	em
	checks "nothing changed: cached" '[ "$(ran s)" = 0 ]'
	sed -i 's|      sandbox: true|      sandbox: {network: true}|' Evalfile
	em
	assert_rc 0
	checks "changing the agent's sandbox re-runs it" '[ "$(ran s)" = 1 ]'
	printf '      sandbox: true\n' >>Evalfile # the grader's
	em
	assert_rc 0
	checks "changing the grader's sandbox does not re-run the agent" '[ "$(ran s)" = 0 ]'
	agentsaid >/dev/null
	checks "but re-grades it, sandboxed" '"$E" log "s/t1#1" 2>&1 | sed -n "/^== grade/,\$p" | grep -qx "connect: blocked"'
fi

if needbwrap "timeout"; then
	try "a sandboxed agent past its timeout is killed with everything it started"
	mkdir -p tasks/t1
	echo hi >tasks/t1/input.txt
	echo done >tasks/t1/expected.txt
echo done >tasks/t1/expected.txt
	ln -s "$(command -v sleep)" "sleep-$MARK"
	printf 'suites:\n  s:\n    tasks: tasks/*\n    timeout: 1\n    agent:\n      command: (./sleep-%s 60 &) ; ./sleep-%s 60\n      sandbox: true\n' \
		"$MARK" "$MARK" >Evalfile
	em
	assert_rc 1
	checks "it timed out" 'grep -qi "timed out" "$T/err" || "$E" log "s/t1#1" 2>&1 | grep -qi "timed out"'
	check "no sleeper left" noproc "sleep-$MARK"
fi

try "deps refuses a sandboxed agent (it cannot be traced)"
mkescape true
em deps 's/t1#1'
assert_rc 2
checks "says why" 'grep -q "sandboxed" "$T/err"'

# ---------------------------------------------------------------------------
# bubblewrap missing or refused: exit 2 before anything runs

# fakebin [BWRAPSCRIPT]: a PATH holding timeout (for em) and, when given, a
# bwrap that is that script
fakebin() {
	mkdir -p "$T/bin"
	ln -sf "$(command -v timeout)" "$T/bin/timeout"
	if [ -n "${1:-}" ]; then
		printf '#!/bin/sh\n%s\n' "$1" >"$T/bin/bwrap"
		chmod +x "$T/bin/bwrap"
	fi
}

try "no bubblewrap on PATH: exit 2, says so, nothing runs"
mkescape true
fakebin
PATH=$T/bin em
assert_rc 2
checks "names bubblewrap" 'grep -q "bubblewrap (bwrap) is not installed" "$T/err"'
checks "names the suite" 'grep -q "suite s" "$T/err"'
check "nothing ran" test ! -e cache

try "bubblewrap that cannot create namespaces: exit 2 with its words, nothing runs"
mkescape true
fakebin 'echo "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces" >&2; exit 1'
PATH=$T/bin em
assert_rc 2
checks "says namespaces" 'grep -q "cannot create namespaces here: bwrap: No permissions" "$T/err"'
check "nothing ran" test ! -e cache

try "only the grader sandboxed: the probe runs too"
mkescape "" true
fakebin
PATH=$T/bin em
assert_rc 2
checks "names bubblewrap" 'grep -q "bubblewrap" "$T/err"'

# ---------------------------------------------------------------------------
# the Evalfile

try "sandbox: a wrong type is an error naming its line"
mkescape maybe
bad_input 'Evalfile:10:[0-9]+: suites.s.agent.sandbox: expected true or false'

try "sandbox: an unknown key is an error"
mkescape "{net: false}"
bad_input "Evalfile:10:[0-9]+: suites.s.agent.sandbox: unknown key 'net'"

try "sandbox.writable: a path that does not exist is an error"
mkescape "{writable: [nosuch]}"
bad_input "suites.s.agent.sandbox.writable: cannot use 'nosuch'"

try "sandbox.writable: the cache folder is refused"
mkescape "{writable: [cache/x]}"
mkdir -p cache/x
em
assert_rc 2
checks "says the cache is hidden" 'grep -q "is in the cache folder, which the sandbox hides" "$T/err"'

try "sandbox on a model agent is an error"
mkdir -p tasks/t1
echo hi >tasks/t1/input.txt
echo done >tasks/t1/expected.txt
printf 'suites:\n  s:\n    tasks: tasks/*\n    agent:\n      provider: openai\n      model: m\n      sandbox: true\n' >Evalfile
bad_input 'suites.s.agent.sandbox: is for command agents'

try "sandbox on a grader that runs no command is an error"
mkescape ""
sed -i 's|      type: command|      type: exact|; s|      command: sh grade.sh|      sandbox: true|' Evalfile
bad_input "'sandbox' is for graders of type command"

try "defaults: sandbox applies to every suite's agent"
mkdir -p tasks/t1
echo hi >tasks/t1/input.txt
echo done >tasks/t1/expected.txt
printf 'defaults:\n  agent: {sandbox: true}\nsuites:\n  s:\n    tasks: tasks/*\n    agent: {command: "echo x >pwned; echo done"}\n' >Evalfile
if [ "$canbwrap" = 1 ]; then
	em
	assert_rc 0
	check "the project was not written" test ! -e pwned
else
	fakebin
	PATH=$T/bin em
	assert_rc 2
fi

# ---------------------------------------------------------------------------
finish
kill "$SERVER" 2>/dev/null
wait "$SERVER" 2>/dev/null
echo "# took $(elapsed "$STARTED")s with $E" >&2
echo "$npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]
