#!/usr/bin/env bash
# End-to-end tests of `evalmake deps CELL` and of `-v` naming the project
# files an agent read that its run key does not cover: the agent runs under
# evalmake's own ptrace tracer.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/trace.sh
#
# Each case builds a small project of its own (one task folder, t1, whose
# input is "hello"): Python agents importing project modules, shell agents
# reading data files through subshells, pipelines and `sh -c`.
# Needs: bash, coreutils, jq, python3; setpriv (util-linux) for the case
# run as an unprivileged user when the tests run as root.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ! command -v python3 >/dev/null; then
	echo "trace.sh: needs python3 (bash .ci/deps installs it)" >&2
	exit 2
fi

# ---------------------------------------------------------------------------
# helpers

# mkone 'AGENT COMMAND' [DEPS]: a project with suite s, task t1, the
# command as the agent and DEPS (a YAML flow list) as its deps; the grader
# expects HELLO
mkone() {
	mkdir -p tasks/t1 agents data
	printf 'hello\n' >tasks/t1/input.txt
	printf 'HELLO\n' >tasks/t1/expected.txt
	printf 'Say: {{input}}\n' >prompt.md
	{
		echo "suites:"
		echo "  s:"
		echo "    tasks: tasks/*"
		echo "    prompt: prompt.md"
		echo "    agent:"
		echo "      command: $1"
		[ -n "${2:-}" ] && echo "      deps: $2"
		echo "    grader: {type: exact}"
	} >Evalfile
}

# a Python agent that imports agents/helper.py and answers in capitals
mkpython() {
	cat >agents/run.py <<'EOF'
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper
with open(os.path.join(os.environ["EVAL_OUT_DIR"], "note.txt"), "w") as f:
    f.write("an artifact\n")
print(helper.answer(sys.stdin.read()))
EOF
	cat >agents/helper.py <<'EOF'
def answer(prompt):
    return prompt.split(":", 1)[1].strip().upper()
EOF
}

# stdout is exactly $1
assert_out() {
	[ "$(cat "$T/out")" = "$1" ] || fail "stdout is not '$1'"
}

# stdout names the file $1 on a line of its own (the list of undeclared files)
assert_named() {
	grep -qxF -- "  $1" "$T/out" || fail "deps does not name $1"
}

# no listed file holds $1
assert_not_named() {
	! grep -E '^  [^ ]' "$T/out" | grep -v '^  deps: ' | grep -qF -- "$1" || fail "deps names $1"
}

# ---------------------------------------------------------------------------
# what is named

try "deps: a Python agent importing an undeclared project module names it, and the deps line"
mkone "python3 agents/run.py" "[agents/run.py]"
mkpython
em deps 's/t1#1'
assert_rc 1
assert_named agents/helper.py
assert_not_named agents/run.py
assert_not_named prompt.md
assert_not_named tasks/t1
check "the deps line to write" grep -qxF '  deps: [agents/run.py, agents/helper.py]' "$T/out"
check "where the agent is declared" grep -qF "suite s's agent (Evalfile:2:" "$T/out"
# declared as the line says: nothing left
sed -i 's#deps: \[agents/run.py\]#deps: [agents/run.py, agents/helper.py]#' Evalfile
em deps 's/t1#1'
assert_rc 0
assert_out "all inputs declared"

try "deps: a module read from its __pycache__ .pyc is named as its .py"
mkone "python3 agents/run.py" "[agents/run.py]"
mkpython
python3 -m py_compile agents/helper.py
check "a compiled helper" test -f agents/__pycache__/helper.cpython-*.pyc
em deps 's/t1#1'
assert_rc 1
assert_named agents/helper.py
assert_not_named __pycache__
assert_not_named .pyc

try "deps: a shell agent cat-ing an undeclared data file names it"
mkone "./agents/a.sh" "[agents/a.sh]"
printf '#!/bin/sh\ncat data/facts.txt >/dev/null\ntr a-z A-Z | sed "s/SAY: //"\n' >agents/a.sh
chmod +x agents/a.sh
printf 'facts\n' >data/facts.txt
em deps 's/t1#1'
assert_rc 1
assert_named data/facts.txt
check "the line" grep -qxF '  deps: [agents/a.sh, data/facts.txt]' "$T/out"

try "deps: several files of one folder and extension become one glob"
mkone "cat data/*.csv data/*.txt >/dev/null; echo HELLO"
for f in a.csv b.csv c.txt; do echo x >data/$f; done
em deps 's/t1#1'
assert_rc 1
assert_named data/a.csv
assert_named data/b.csv
assert_named data/c.txt
check "one glob for the .csv files" grep -qxF '  deps: [data/*.csv, data/c.txt]' "$T/out"

try "deps: files named on the agent's command line are inputs already, not reported"
mkone "cat data/a.csv >/dev/null; cat data/*.txt >/dev/null; echo HELLO"
for f in a.csv c.txt; do echo x >data/$f; done
em deps 's/t1#1'
assert_rc 1
assert_named data/c.txt
assert_not_named data/a.csv

try "deps: a fully declared agent gets 'all inputs declared' and nothing else"
mkone "./agents/a.sh" "[agents/*.sh, data/facts.txt]"
printf '#!/bin/sh\ncat data/facts.txt >/dev/null\necho HELLO\n' >agents/a.sh
chmod +x agents/a.sh
printf 'facts\n' >data/facts.txt
em deps 's/t1#1'
assert_rc 0
assert_out "all inputs declared"
check "nothing on stderr" test ! -s "$T/err"

try "deps: files outside the project, the task's files, the cache, .git and the agent's own outputs are not listed"
mkone "./agents/a.sh" "[agents/a.sh]"
echo "outside" >"$T/outside.txt"
mkdir -p .git && echo "ref: x" >.git/HEAD
cat >agents/a.sh <<EOF
#!/bin/sh
cat /etc/passwd "$T/outside.txt" .git/HEAD tasks/t1/input.txt tasks/t1/expected.txt >/dev/null
cat "\$EVAL_TASK_JSON" >/dev/null
echo artifact >"\$EVAL_OUT_DIR/a.txt"; cat "\$EVAL_OUT_DIR/a.txt" >/dev/null
echo state >>memory.txt; cat memory.txt >/dev/null
echo tmp >scratch.tmp; cat scratch.tmp >/dev/null; rm scratch.tmp
ls data >/dev/null
echo HELLO
EOF
chmod +x agents/a.sh
em deps 's/t1#1'
assert_rc 0
assert_out "all inputs declared"

try "deps: a multi-process agent is followed: subshell, pipeline, sh -c, background job, Python subprocess"
mkone "./agents/a.sh" "[agents/a.sh]"
for f in sub pipe shc bg py; do echo "$f" >data/$f.txt; done
cat >agents/a.sh <<'EOF'
#!/bin/sh
(cat data/sub.txt >/dev/null)
cat data/pipe.txt | tr a-z A-Z | cat >/dev/null
sh -c 'cat data/shc.txt >/dev/null'
cat data/bg.txt >/dev/null &
wait
python3 -c 'import subprocess; subprocess.run(["cat", "data/py.txt"], stdout=subprocess.DEVNULL)'
echo HELLO
EOF
chmod +x agents/a.sh
em deps 's/t1#1'
assert_rc 1
for f in sub pipe shc bg py; do assert_named data/$f.txt; done
# the same without the seccomp filter: a stop at every syscall
EVALMAKE_TRACE_ALL=1 em deps 's/t1#1'
assert_rc 1
for f in sub pipe shc bg py; do assert_named data/$f.txt; done

try "deps: an executed project binary is named"
mkone "./agents/a.sh" "[agents/a.sh]"
cp "$(type -P true)" agents/tool
printf '#!/bin/sh\n./agents/tool\necho HELLO\n' >agents/a.sh
chmod +x agents/a.sh
em deps 's/t1#1'
assert_rc 1
assert_named agents/tool

try "deps: a statically linked agent is traced like any other"
if cc -static -x c -o "$T/static" - 2>/dev/null <<'EOF'
#include <stdio.h>
int main(void)
{
	char b[64];
	FILE *f = fopen("data/x.txt", "r");
	if (f && fgets(b, sizeof(b), f))
		fputs(b, stdout);
	return 0;
}
EOF
then
	mkone "./agents/static" "[agents/static]"
	cp "$T/static" agents/static
	echo HELLO >data/x.txt
	em deps 's/t1#1'
	assert_rc 1
	assert_named data/x.txt
	assert_not_named agents/static
else
	echo "# skipped: no static C library to link with" >&2
fi

# ---------------------------------------------------------------------------
# the traced run itself

try "deps: the traced run is a normal run: its output, artifacts and score are stored"
mkone "python3 agents/run.py" "[agents/*.py]"
mkpython
em deps 's/t1#1'
assert_rc 0
assert_out "all inputs declared"
em -n
assert_rc 0
check "the cell is up to date after deps" grep -q "0 cells would run, 0 would be graded again, 1 up to date" "$T/out"
em log 's/t1#1'
check "its output" grep -qx "HELLO" "$T/out"
em --json r.json
assert_json r.json "$(cellscore s t1 1)" 1
check "its artifact" test "$(find cache/runs -name note.txt | wc -l)" = 1

try "deps: a cached cell runs again to be traced, and its stored result is kept (-B replaces it)"
mkone "./agents/a.sh" "[agents/a.sh]"
printf '#!/bin/sh\necho run >>calls\ncat >/dev/null\necho HELLO\n' >agents/a.sh
chmod +x agents/a.sh
em
assert_rc 0
assert_calls 1
before=$(allparts meta.json | md5sum)
em deps 's/t1#1'
assert_rc 0
assert_calls 2
[ "$before" = "$(allparts meta.json | md5sum)" ] || fail "deps replaced the stored result"
em -B deps 's/t1#1'
assert_rc 0
assert_calls 3
[ "$before" != "$(allparts meta.json | md5sum)" ] || fail "deps -B kept the stored result"

try "deps: exit status and output of a failing traced agent; what it read is still named"
mkone "./agents/a.sh" "[agents/a.sh]"
printf '#!/bin/sh\ncat data/x.txt\necho "giving up" >&2\nexit 3\n' >agents/a.sh
chmod +x agents/a.sh
echo "partial answer" >data/x.txt
em deps 's/t1#1'
assert_rc 1
check "the exit status" grep -qF "s/t1#1: exit status 3: giving up" "$T/err"
assert_named data/x.txt
em log 's/t1#1'
check "its output kept for log" grep -qx "partial answer" "$T/out"
check "its transcript" grep -qx "giving up" "$T/out"
em -n
check "an error is not cached" grep -q "1 cell would run" "$T/out"

try "deps: an agent killed by a signal is reported as such"
mkone "sh -c 'kill -9 \$\$'"
em deps 's/t1#1'
assert_rc 1
check "killed by signal 9" grep -qF "killed by signal 9" "$T/err"

try "deps: a traced agent that times out is killed with everything it started"
mkone "./agents/a.sh" "[agents/a.sh]"
SLEEP=$(sleeper trace)
printf '#!/bin/sh\n(%s 300) &\n%s 300\n' "$SLEEP" "$SLEEP" >agents/a.sh
chmod +x agents/a.sh
sed -i 's/^suites:/defaults: {timeout: 1}\nsuites:/' Evalfile
em deps 's/t1#1'
assert_rc 1
check "timed out" grep -qF "timed out after 1s" "$T/err"
check "no sleeper left" noproc "$MARK"

# ---------------------------------------------------------------------------
# -v

try "-v: a run says which cells read undeclared project files; without -v nothing is traced"
mkone "./agents/a.sh" "[agents/a.sh]"
printf '#!/bin/sh\ncat data/facts.txt >/dev/null\necho HELLO\n' >agents/a.sh
chmod +x agents/a.sh
printf 'facts\n' >data/facts.txt
em
assert_rc 0
check "no trace without -v" ! grep -q "undeclared" "$T/err"
em -v -B
assert_rc 0
check "-v names the file" grep -qxF "s/t1#1: read undeclared project files: data/facts.txt (evalmake deps s/t1#1)" "$T/err"
check "the table still printed" grep -q "^s " "$T/out"
sed -i 's#deps: \[agents/a.sh\]#deps: [agents/a.sh, data/*]#' Evalfile
em -v
assert_rc 0
check "-v quiet once declared" ! grep -q "undeclared" "$T/err"
em -v check
check "check -v quiet too" ! grep -q "undeclared" "$T/err"
sed -i 's#, data/\*\]#]#' Evalfile
em -v check -B
check "check -v names the file too" grep -qF "s/t1#1: read undeclared project files: data/facts.txt" "$T/err"

# ---------------------------------------------------------------------------
# usage and where tracing is not allowed

try "deps: usage errors: not a cell, no such cell, a model agent"
mkone "echo HELLO"
em deps s
assert_rc 2
check "not a cell" grep -qF "expected SUITE/TASK#K" "$T/err"
em deps 's/t9#1'
assert_rc 2
cat >>Evalfile <<'EOF'
  m:
    tasks: tasks/*
    agent: {provider: openai, model: x, base_url: 'http://127.0.0.1:9/v1', api_key_env: NOKEY}
EOF
NOKEY=k em deps 'm/t1#1'
assert_rc 2
check "a model agent reads no files" grep -qF "model called over HTTP" "$T/err"

try "deps: where ptrace is forbidden, deps fails clearly (exit 2) and -v runs untraced with a warning"
mkone "cat data/x.txt >/dev/null; echo HELLO"
echo x >data/x.txt
# a seccomp filter that makes ptrace fail with EPERM, as some container
# profiles do, then evalmake (LeakSanitizer needs ptrace: off there)
cat >noptrace.py <<'EOF'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_PTRACE = {"x86_64": 101, "aarch64": 117}[os.uname().machine]
ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[os.uname().machine]
ins = [(0x20, 0, 0, 4), (0x15, 1, 0, ARCH), (0x06, 0, 0, 0x7FFF0000),
       (0x20, 0, 0, 0), (0x15, 0, 1, NR_PTRACE), (0x06, 0, 0, 0x00050001), (0x06, 0, 0, 0x7FFF0000)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in ins))
prog = struct.pack("HxxxxxxQ", len(ins), ctypes.addressof(buf))
pbuf = ctypes.create_string_buffer(prog)
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, pbuf, 0, 0) == 0, ctypes.get_errno()  # PR_SET_SECCOMP, FILTER
os.execv(sys.argv[1], sys.argv[1:])
EOF
last="noptrace evalmake deps s/t1#1"
ASAN_OPTIONS=detect_leaks=0 timeout -k 5 60 python3 noptrace.py "$E" deps 's/t1#1' >"$T/out" 2>"$T/err"
rc=$?
assert_rc 2
check "says ptrace is not permitted" grep -qF "cannot trace the agent" "$T/err"
check "says why" grep -qF "not permitted" "$T/err"
last="noptrace evalmake -v"
ASAN_OPTIONS=detect_leaks=0 timeout -k 5 60 python3 noptrace.py "$E" -v >"$T/out" 2>"$T/err"
rc=$?
assert_rc 0
check "-v warns it runs untraced" grep -qF "agents run untraced" "$T/err"
check "the cell ran" grep -qF "s/t1#1: ran 1" "$T/err"

try "deps: works for an unprivileged user"
if [ "$(id -u)" != 0 ]; then
	mkone "cat data/*.txt >/dev/null; echo HELLO"
	echo x >data/x.txt
	em deps 's/t1#1'
	assert_rc 1
	assert_named data/x.txt
elif command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	mkone "cat data/*.txt >/dev/null; python3 -c 'print(\"HELLO\")'"
	echo x >data/x.txt
	chmod 755 "$T" "$TOP"
	chown -R nobody "$P"
	last="evalmake deps s/t1#1 as nobody"
	timeout -k 5 60 setpriv --reuid=nobody --regid=nogroup --clear-groups "$E" deps 's/t1#1' >"$T/out" 2>"$T/err"
	rc=$?
	assert_rc 1
	assert_named data/x.txt
	check "its result stored" test "$(nruns)" = 1
else
	echo "# skipped: no setpriv or no user nobody" >&2
fi

summary
