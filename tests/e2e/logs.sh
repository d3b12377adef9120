#!/usr/bin/env bash
# End-to-end tests of what people read when something goes wrong: `log`,
# the errors after the table, "partial" scores, retries, exit statuses on
# signals, and JUnit that agrees with check's exit status (validated
# against Jenkins' junit-10.xsd, tests/junit-10.xsd, with xmllint).
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/logs.sh
#
# Needs: bash, coreutils, jq, python3, xmllint (libxml2-utils), script
# (bsdutils: a terminal for the cases that need one).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
XSD=$HERE/../junit-10.xsd

for tool in xmllint script python3; do
	if ! command -v $tool >/dev/null; then
		echo "logs.sh: needs $tool" >&2
		exit 2
	fi
done

# tty ARGS...: run evalmake with stdout and stderr on a terminal; what it
# printed in $T/out (CRs dropped), its status in $rc
tty() {
	local cmd="" a
	for a in "$E" "$@"; do cmd+="$(printf '%q ' "$a")"; done
	last="evalmake $* (on a terminal)"
	timeout -k 5 120 script -qec "$cmd" /dev/null </dev/null | tr -d '\r' >"$T/out"
	rc=${PIPESTATUS[0]}
}

# set_threshold SUITE X: the suite's threshold (as in check.sh)
set_threshold() {
	sed -i "/^    threshold: .* # $1\$/d" Evalfile
	sed -i "s/^\(    grader: .*\) # $1\$/&\n    threshold: $2 # $1/" Evalfile
}

# the JUnit file $1 is valid against Jenkins' schema
valid_junit() {
	xmllint --noout --schema "$XSD" "$1" >"$T/xsd" 2>&1 || {
		fail "$1 does not validate against junit-10.xsd: $(head -c 300 "$T/xsd")"
		return 1
	}
}

# the "classname/name" of the testcases of JUnit file $1 holding a $2
# element (failure, error), one a line, sorted
cases_with() {
	python3 - "$1" "$2" <<'EOF'
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
for tc in doc.getElementsByTagName("testcase"):
    if tc.getElementsByTagName(sys.argv[2]):
        print(tc.getAttribute("classname") + "/" + tc.getAttribute("name"))
EOF
}

# the model server (tests/modelserver: "REPLY: x" answers x), for the
# model agent and judge cases
need_modelserver logs.sh
start_modelserver logs.sh
export EMKEY=sk-test-logs-SECRET-1234

# ---------------------------------------------------------------------------
# 4. logs a person can read

try "log: a model agent's cell shows tokens, model and attempts; a judge's reply is shown, a failing one as a failure"
printf '{"id": "j1", "input": "hello", "expected": "hello"}\n' >tasks.jsonl
printf 'REPLY: {{input}}\n' >prompt.md
printf 'Grade it.\nREPLY: SCORE: 0.5\n' >rubric.md
cat >Evalfile <<EOF
suites:
  qa:
    tasks: tasks.jsonl
    prompt: prompt.md
    agent: {provider: openai, model: m1, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: EMKEY, retries: 0}
    grader: {type: judge, provider: openai, model: judge-1, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: EMKEY, rubric: rubric.md, retries: 0}
EOF
em
assert_rc 0
em log qa/j1#1
assert_rc 0
grep -q '^tokens       [0-9]* in, [0-9]* out$' "$T/out" || fail "no tokens line"
grep -q '^model        m1' "$T/out" || fail "no model line"
grep -q '^attempts     1$' "$T/out" || fail "no attempts line"
grep -q "^== judge's reply$" "$T/out" || fail "no judge's reply section"
sed -n "/^== judge's reply\$/,\$p" "$T/out" | grep -q '^SCORE: 0.5$' || fail "the judge's reply is not shown"
printf 'REPLY: no idea, really\n' >rubric.md
em
assert_rc 1
em log qa/j1#1
assert_rc 1
grep -q 'grader changed' "$T/out" && fail "a failed judge reported as a grader change"
grep -q "^== grade: FAILED" "$T/out" || fail "no grading failure"
grep -q "^error        .*SCORE" "$T/out" || fail "no judge error line"
grep -q '^no idea, really$' "$T/out" || fail "the failing judge's reply is not shown"
{ grep -rq "$EMKEY" "$T/out" cache || cache_has "$EMKEY"; } && fail "the key is stored or printed"

try "log: a stored cell shows expected, exit status, duration, attempts, tokens and a local time"
mkproject
em
em log calc/t3#1
assert_rc 0
for want in '^== expected$' '^THREE$' '^exit status  0$' '^duration     [0-9.]* s$' '^attempts     1$' \
	'^tokens       none' '^finished     20[0-9-]* [0-9:]*'; do
	grep -q "$want" "$T/out" || fail "log has no line matching $want"
done
TZ=XYZ-3 em log calc/t3#1
grep -q '^finished .* XYZ$' "$T/out" || fail "the time is not in the local zone (TZ=XYZ-3)"

try "log: an errored cell's record is labelled lines with a local time, not raw JSON"
mkproject
echo t2 >fail
em -k calc
assert_rc 1
TZ=XYZ-3 em log calc/t2#1
assert_rc 1
grep -q '^error        exit status 3: agent failed on purpose on t2$' "$T/out" || fail "no labelled error line"
grep -q '^exit status  3$' "$T/out" || fail "no exit status line"
grep -q '^finished .* XYZ$' "$T/out" || fail "no local time"
grep -q '^== expected$' "$T/out" || fail "no expected answer"
grep -q '[{}]' "$T/out" && fail "raw JSON in the log"
grep -q '"exit"' "$T/out" && fail "raw JSON keys in the log"

try "log: a command grader that fails is reported as a grading failure, with its stderr"
mkproject
cat >grade.sh <<'EOF'
#!/bin/sh
echo "grader: looking at $EVAL_EXPECTED" >&2
echo "not a score"
EOF
chmod +x grade.sh
sed -i 's/grader: {type: exact} # calc/grader: {type: command, command: .\/grade.sh} # calc/' Evalfile
em -k calc
assert_rc 1
em log calc/t1#1
assert_rc 1
grep -q 'grader changed' "$T/out" && fail "a grading failure reported as a grader change"
grep -q '^== grade: FAILED' "$T/out" || fail "no grading failure in the log"
grep -q "^error        the grader's last line is 'not a score'" "$T/out" || fail "no grader error line"
grep -q '^grader: looking at one$' "$T/out" || fail "the grader's stderr is not shown"
cat >grade.sh <<'EOF'
#!/bin/sh
echo "grader: crashing" >&2
exit 4
EOF
em -k calc
em log calc/t1#1
grep -q 'grader exited with status 4' "$T/out" || fail "no exit status of the grader"
grep -q '^grader: crashing$' "$T/out" || fail "the stderr of a grader that exits non-zero is not shown"
# a grader that works: its stderr is still there, and no failure
cat >grade.sh <<'EOF'
#!/bin/sh
echo "grader: fine" >&2
echo 1 ok
EOF
em calc
assert_rc 0
em log calc/t1#1
grep -q '^== grader stderr$' "$T/out" || fail "no grader stderr section"
grep -q 'FAILED' "$T/out" && fail "an old failure shown for a cell that is graded now"

try "log: agent output on a terminal has control characters made visible; -r and pipes keep them"
mkproject
cat >esc.sh <<'EOF'
#!/bin/sh
cat >/dev/null
printf 'a\033[31mRED\033]0;title\007b\n'
printf 'err\033[2Jclear\n' >&2
EOF
chmod +x esc.sh
set_calc_agent esc.sh
em calc
tty log calc/t1#1
grep -q 'a^\[\[31mRED^\[\]0;title^Gb' "$T/out" || fail "escapes in the output not made visible"
grep -q 'err^\[\[2Jclear' "$T/out" || fail "escapes in the transcript not made visible"
grep -q $'\033' "$T/out" && fail "a raw ESC reached the terminal"
tty log -r calc/t1#1
grep -q $'a\033\\[31mRED' "$T/out" || fail "-r does not show the output as it is"
em log calc/t1#1
grep -q $'a\033\\[31mRED' "$T/out" || fail "a pipe does not get the output as it is"
em -r calc
assert_rc 2
grep -q 'option of log' "$T/err" || fail "-r outside log is not refused"
em calc
grep -q 'got "a^\[\[31mRED' "$T/out" || fail "the table's got line shows raw escapes"

try "an output with a NUL byte is graded on all of it, not up to the NUL"
mkproject
printf '#!/bin/sh\ncat >/dev/null\nprintf "one\\000two\\n"\n' >nul.sh
chmod +x nul.sh
set_calc_agent nul.sh
em -k calc --json r.json
assert_rc 0
assert_json r.json '[.suites[] | select(.name == "calc") | .errors]' '[0]'
# t1 expects "one": cut at the NUL it would pass
assert_json r.json '[.suites[] | select(.name == "calc") | .tasks[] | select(.id == "t1") | .score]' '[0]'
em log "calc/t1#1"
checks "the stored output is all of it, the NUL as U+FFFD" 'grep -qF "one$(printf "\xef\xbf\xbd")two" "$T/out"'

# ---------------------------------------------------------------------------
# 5. errors counted, not hidden

try "errored cells are grouped by cause after the table, naming a cell to log"
mkproject
echo all >fail
cat >>Evalfile <<'EOF'
  other:
    tasks: tasks/quiz.jsonl
    iterations: 1
    agent: {command: "cat >/dev/null; echo oops >&2; exit 9"}
EOF
em -k
assert_rc 1
grep -q '^errors' "$T/out" || fail "no errors section after the table"
grep -q '^  6 cells: exit status 3: agent failed on purpose on t[123] (see evalmake log calc/t[123]#[12])$' "$T/out" ||
	grep -q '^  2 cells: exit status 3' "$T/out" || fail "calc's errors not grouped"
grep -q '^  3 cells: exit status 9: oops (see evalmake log other/q[123]#1)$' "$T/out" || fail "other's errors not grouped"

try "a suite with cells not scored shows partial in the table and the JSON report"
mkproject 5
echo t2 >fail
em -k --json r.json
assert_rc 1
grep -q '^calc .* partial: 8 of 10 cells scored$' "$T/out" || fail "no partial marker on calc's row"
grep -q '^quiz .*partial' "$T/out" && fail "quiz marked partial"
assert_json r.json '[.suites[] | select(.name == "calc") | .partial]' '[true]'
assert_json r.json '[.suites[] | select(.name == "quiz") | .partial]' '[null]'
rm fail
echo changed >tasks/calc/t1/input.txt
em status
grep -q '^calc .*partial: 6 of 10 cells scored' "$T/out" || fail "status with pending cells: no partial marker"

try "keep_going: true in the Evalfile keeps going like -k"
mkproject
echo t1 >fail
sed -i 's/^jobs: 4$/jobs: 1/' Evalfile
em calc
assert_rc 1
n1=$(ncalls)
check "without keep_going the run stops early ($n1 calls)" [ "$n1" -lt 6 ]
rm -f calls
sed -i 's/^jobs: 1$/jobs: 1\nkeep_going: true/' Evalfile
em calc
assert_rc 1
assert_calls 6
em -k calc
echo 'keep_going: maybe' >>Evalfile
em calc
assert_rc 2
grep -q 'keep_going' "$T/err" || fail "a bad keep_going is not named"

try "retries: a command agent that fails twice then works is retried; each attempt's transcript kept"
mkproject
cat >flaky.sh <<'EOF'
#!/bin/sh
n=$(cat "count.$EVAL_TASK.$EVAL_ITERATION" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n >"count.$EVAL_TASK.$EVAL_ITERATION"
cat >/dev/null
echo "attempt $n" >&2
[ $n -lt 3 ] && exit 5
echo "$EVAL_TASK" | sed 's/t1/one/;s/t2/two/;s/t3/three/'
EOF
chmod +x flaky.sh
set_calc_agent flaky.sh
sed -i 's/agent: {command: .\/flaky.sh, deps/agent: {command: .\/flaky.sh, retries: 2, deps/' Evalfile
em calc
assert_rc 0
em log calc/t1#1
grep -q '^attempts     3$' "$T/out" || fail "log does not say 3 attempts"
grep -q '^== transcript of attempt 1 (failed)$' "$T/out" || fail "no transcript of attempt 1"
grep -q '^attempt 2$' "$T/out" || fail "attempt 2's transcript not kept"
# retries is not part of the run key
sed -i 's/retries: 2/retries: 5/' Evalfile
em -q calc
assert_rc 0
# out of retries: an error, each attempt kept
rm -f count.*
sed -i 's/retries: 5/retries: 1/' Evalfile
echo more >>data/calc.txt # a new run key: the cell runs
em calc/t1#1
assert_rc 1
em log calc/t1#1
grep -q '^attempts     2$' "$T/out" || fail "an errored cell's log does not say 2 attempts"
grep -q '^== transcript of attempt 1 (failed)$' "$T/out" || fail "no transcript of the first attempt"
sed -i 's/retries: 1/retries: -1/' Evalfile
em calc
assert_rc 2

try "SIGTERM exits 143, SIGINT 130"
mkproject
sl=$(sleeper logs)
printf '#!/bin/sh\necho "$EVAL_TASK" >>calls\ncat >/dev/null\n"%s" 30\n' "$sl" >slow.sh
chmod +x slow.sh
set_calc_agent slow.sh
bg_em calc/t1#1
check "the agent started" waitfor 10 '[ "$(ncalls)" = 1 ]'
kill -TERM "$bgpid"
bg_wait 10
assert_rc 143
rm -f calls
bg_em calc/t1#1
check "the agent started" waitfor 10 '[ "$(ncalls)" = 1 ]'
kill -INT "$bgpid"
bg_wait 10
assert_rc 130
check "no agent survives" noproc "$sl"

try "a fully cached run on a terminal leaves no [0/0] behind"
mkproject
em
tty
assert_rc 0
grep -q '\[0/0\]' "$T/out" && fail "a [0/0] progress remnant"
grep -q '^suite' "$T/out" || fail "no table"

# ---------------------------------------------------------------------------
# 6. JUnit agrees with the exit status

try "check --junit: a passing check is all green and valid against junit-10.xsd"
mkproject
set_threshold calc 0.6
em check --junit j.xml
assert_rc 0
valid_junit j.xml
check "no failure or error in a passing check's JUnit" [ -z "$(cases_with j.xml failure)$(cases_with j.xml error)" ]
grep -q 'name="gate: threshold 0.6"' j.xml || fail "no testcase for the gate"

try "check --junit: a failing gate is red, with its suite's failing tasks; other suites stay green"
mkproject
set_threshold calc 0.7
em check --junit j.xml
assert_rc 1
valid_junit j.xml
check "failures: calc's gate and its failing task" [ "$(cases_with j.xml failure | tr '\n' ' ')" = "calc/gate: threshold 0.7 calc/t3 " ]
grep -q 'threshold 0.7: short by 0.033; failing: t3' j.xml || fail "the gate's failure does not name the failing task"
python3 - j.xml <<'EOF' || fail "counts"
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
top = d.documentElement
assert not top.hasAttribute("skipped")
s = {x.getAttribute("name"): x for x in d.getElementsByTagName("testsuite")}
assert s["calc"].getAttribute("tests") == "4" and s["calc"].getAttribute("failures") == "2", s["calc"].toxml()[:200]
assert s["quiz"].getAttribute("failures") == "0"
assert top.getAttribute("failures") == "2"
EOF

try "check --junit: errored cells are red (the errors gate and an <error>), and the file validates"
mkproject
echo t2 >fail
em check -k --junit j.xml
assert_rc 1
valid_junit j.xml
cases_with j.xml failure | grep -qx 'calc/gate: no errors' || fail "no failing errors gate"
check "errored task" [ "$(cases_with j.xml error)" = "calc/t2" ]
cases_with j.xml failure | grep -q '^quiz/' && fail "quiz (no gate failed) has failures"

summary
