#!/usr/bin/env bash
# End-to-end tests of the CI side of evalmake: `check` and its gates,
# JUnit XML, the Markdown summary, `diff`, `lock` and `check --locked`, the
# history, and `report --html` loaded in headless Chromium.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/check.sh
#
# Cases use the standard project of lib.sh (suites calc and quiz, 3 tasks,
# 2 and 2 iterations): calc scores 2/3 (t3 expects THREE), quiz 1/3 (q2
# and q3 fail an exact grader). Its agent appends a line per call to
# `calls`, so every locked check proves it called no agent.
# Needs: bash, coreutils, jq, python3 (XML parsing), chromium.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

for tool in python3 chromium; do
	if ! command -v $tool >/dev/null; then
		echo "check.sh: needs $tool (bash .ci/deps installs it)" >&2
		exit 2
	fi
done

# ---------------------------------------------------------------------------
# helpers

# set (or replace) suite $1's threshold to $2
set_threshold() {
	sed -i "/^    threshold: .* # $1\$/d" Evalfile
	sed -i "s/^\(    grader: .*\) # $1\$/&\n    threshold: $2 # $1/" Evalfile
}

# an agent for calc that gets t1 and t2 wrong and t3 right: calc drops from
# 2/3 to 1/3; t1 and t2 flip to fail, t3 to pass
mkworse() {
	cat >worse.sh <<'EOF'
#!/bin/sh
echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
cat >/dev/null
case $EVAL_TASK in
t1 | t2) echo wrong ;;
t3) echo THREE ;;
esac
EOF
	chmod +x worse.sh
}

# the names of the JUnit task testcases of file $1 with a <failure> (or
# $2); the gates' testcases ("gate: ...") are left out
junit_cases() {
	python3 - "$1" "${2:-failure}" <<'EOF'
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
for tc in doc.getElementsByTagName("testcase"):
    if tc.getElementsByTagName(sys.argv[2]) and not tc.getAttribute("name").startswith("gate: "):
        print(tc.getAttribute("classname") + "/" + tc.getAttribute("name"))
EOF
}

# the same set of lines, in any order
same_lines() {
	[ "$(printf '%s\n' "$1" | sort)" = "$(printf '%s\n' "$2" | sort)" ]
}

# chrome OUTFILE ARGS...: headless Chromium, offline, a fresh profile
chrome() {
	local out=$1
	shift
	timeout -k 5 90 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--proxy-server=127.0.0.1:9 --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" \
		--virtual-time-budget=2000 "$@" >"$out" 2>>"$T/chrome.err"
}

# ---------------------------------------------------------------------------
# gates

try "check: --min-score gives 0 above every suite's score and 1 below one"
mkproject
em check --min-score 0.3
assert_rc 0
assert_calls 12
grep -q "^ok .*quiz .*min score 0.3" "$T/out" || fail "no ok line for quiz's min score"
rm -f calls
em check --min-score 0.5
assert_rc 1
assert_calls 0
grep -q "^FAIL  quiz  0.333 ±0.333  min score 0.5" "$T/out" || fail "no FAIL line with quiz's score, stderr and gate"
grep "^FAIL  quiz" "$T/out" | grep -q "failing: q2 q3" || fail "the FAIL line does not name the failing tasks"
grep -q "^FAIL  calc" "$T/out" && fail "calc (0.667) failed min score 0.5"
em check --min-score 1
assert_rc 1

try "check: Evalfile thresholds give 0 when they hold and 1 when one does not"
mkproject
set_threshold calc 0.6
em check
assert_rc 0
grep -q "^ok    calc .*threshold 0.6" "$T/out" || fail "no ok line for calc's threshold"
grep -q "passed" "$T/out" || fail "no passed verdict"
set_threshold calc 0.7
rm -f calls
em check
assert_rc 1
assert_calls 0
grep -q "^FAIL  calc  0.667 ±0.333  threshold 0.7: short by 0.033; failing: t3" "$T/out" ||
	fail "no FAIL line naming calc's score, the threshold and t3"
set_threshold quiz 0.3
em check calc
assert_rc 1
grep -q "quiz" "$T/out" && fail "check calc judged quiz"
em check quiz
assert_rc 0

try "check: honours -B, -j and --iterations like the default command"
mkproject
em check -j 1 --iterations 1
assert_rc 0
assert_calls 6
rm -f calls
em check -B
assert_rc 0
assert_calls 12

try "check: bad usage is exit 2 and runs nothing"
mkproject
em check --max-drop 0.1
assert_rc 2
em check --min-score 1.5
assert_rc 2
em check --baseline missing.json
assert_rc 2
grep -q "missing.json" "$T/err" || fail "the message does not name the baseline"
echo '{"not": "a report"}' >bad.json
em check --baseline bad.json
assert_rc 2
em check --locked -B
assert_rc 2
em --junit j.xml
assert_rc 2
em check nosuchsuite
assert_rc 2
assert_calls 0

try "check: an errored cell fails check; JUnit has an <error> for its task"
mkproject
echo t2 >fail
em check -k --junit junit.xml
assert_rc 1
grep -q "^FAIL  calc  2 cells errored: calc/t2#1 calc/t2#2" "$T/out" || fail "no line naming the errored cells"
check "errored tasks" same_lines "$(junit_cases junit.xml error)" "calc/t2"
# only calc's gate (errors) failed: quiz's tasks below 1 are not failures
check "failing tasks" same_lines "$(junit_cases junit.xml failure)" "calc/t3"
grep -q "agent failed on purpose\|exit" junit.xml || fail "the <error> does not carry the cell's message"

# ---------------------------------------------------------------------------
# JUnit and Markdown

try "check --junit: well-formed XML naming exactly the failing tasks, with expected vs got"
mkproject
em check --junit out/junit.xml
assert_rc 1 # the folder out/ does not exist: the report cannot be written
mkdir out
em check --min-score 0.9 --junit out/junit.xml
assert_rc 1
check "junit.xml parses" python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' out/junit.xml
check "failing tasks" same_lines "$(junit_cases out/junit.xml)" "calc/t3
quiz/q2
quiz/q3"
python3 - out/junit.xml <<'EOF' || fail "testsuite/testcase structure"
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
suites = {s.getAttribute("name"): s for s in d.getElementsByTagName("testsuite")}
assert set(suites) == {"calc", "quiz"}, suites
assert suites["calc"].getAttribute("tests") == "4" and suites["calc"].getAttribute("failures") == "2"
assert suites["quiz"].getAttribute("failures") == "3"
f = [tc for tc in d.getElementsByTagName("testcase") if tc.getAttribute("name") == "t3"][0]
msg = f.getElementsByTagName("failure")[0].getAttribute("message")
assert 'expected "THREE"' in msg and 'got "three"' in msg, msg
EOF

try "check --junit: agent output with markup, control bytes and invalid UTF-8 stays well-formed"
mkproject
mkdir -p tasks/calc/t4
printf 'a <b> & "c" ]]> \001\033 \377\376 \342\202 </failure>\n' >tasks/calc/t4/input.txt
printf 'nope\n' >tasks/calc/t4/expected.txt
echo '{"id": "q&<4>", "input": "x </testcase> \u0007 y", "expected": "z"}' >>tasks/quiz.jsonl
em check --min-score 0.9 --junit junit.xml
assert_rc 1
check "junit.xml parses" python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' junit.xml
check "failing tasks" same_lines "$(junit_cases junit.xml)" "calc/t3
calc/t4
quiz/q2
quiz/q3
quiz/q&<4>"

try "check --markdown: a summary table; appended to \$GITHUB_STEP_SUMMARY"
mkproject
set_threshold calc 0.6
echo "# earlier step" >"$T/summary.md"
GITHUB_STEP_SUMMARY=$T/summary.md em check --markdown report.md
assert_rc 0
check "report.md written" test -s report.md
head -n 1 "$T/summary.md" | grep -q "earlier step" || fail "\$GITHUB_STEP_SUMMARY was overwritten, not appended to"
grep -q "^### evalmake check: passed" "$T/summary.md" || fail "no verdict in \$GITHUB_STEP_SUMMARY"
grep -q "^| calc | 0.667 | ±0.333 |" "$T/summary.md" || fail "no calc row in \$GITHUB_STEP_SUMMARY"
grep -q "^| quiz |" "$T/summary.md" || fail "no quiz row"
grep -q "threshold 0.6" report.md || fail "report.md does not show the gate"
# without --markdown, the summary still lands in $GITHUB_STEP_SUMMARY
: >"$T/summary.md"
GITHUB_STEP_SUMMARY=$T/summary.md em check --min-score 0.5
assert_rc 1
grep -q "^### evalmake check: failed" "$T/summary.md" || fail "no failed verdict in \$GITHUB_STEP_SUMMARY"
grep -q "Failed gates" "$T/summary.md" || fail "the failed gate is not listed"

# ---------------------------------------------------------------------------
# baselines and diff

try "check --baseline: a regressed agent fails --max-drop 0.05 and passes a larger allowance"
mkproject
em --json base.json
assert_rc 0
mkworse
set_calc_agent worse.sh
em check --baseline base.json --max-drop 0.05 --markdown md.md --json new.json
assert_rc 1
grep -q "^FAIL  calc  0.333 ±0.333  max drop 0.05 vs baseline 0.667 ±0.333: down 0.333" "$T/out" ||
	fail "no FAIL line with the drop"
grep "^FAIL  calc" "$T/out" | grep -q "pass->fail: t1 t2; fail->pass: t3" || fail "the FAIL line does not name the flips"
grep "^FAIL  calc" "$T/out" | grep -qE "significant.* 95% CI \[.*MDE" || fail "no significance verdict"
grep -q "^ok    quiz .*max drop 0.05 .*unchanged" "$T/out" || fail "quiz did not hold"
grep -q "^| calc | 0.333 | ±0.333 | 0.667 | -0.333" md.md || fail "no delta in the Markdown summary"
grep -q "| calc | t1 | 1.000 | 0.000 | pass → fail |" md.md || fail "no flip table in the Markdown summary"
rm -f calls
em check --baseline base.json --max-drop 0.5
assert_rc 0
assert_calls 0
# a baseline is a plain JSON report: status --json makes one too
em status --json st.json
em check --baseline st.json
assert_rc 0

try "check --baseline: the paired test tells a broad regression from one flipped task"
mkproject 9
em --json base.json
cat >flaky.sh <<'EOF'
#!/bin/sh
# wrong on the tasks listed in ./wrong, else the standard agent
if grep -qx "$EVAL_TASK" wrong; then
	echo "$EVAL_SUITE $EVAL_TASK $EVAL_ITERATION" >>calls
	cat >/dev/null
	echo wrong
else
	exec ./agent.sh
fi
EOF
chmod +x flaky.sh
set_calc_agent flaky.sh
printf 't1\n' >wrong
em check --baseline base.json --max-drop 0.05
assert_rc 1
grep "^FAIL  calc" "$T/out" | grep -q "down 0.111, not significant" || fail "one flipped task of 9 is called significant"
printf 't%s\n' 1 2 4 5 6 7 8 >wrong
em check -B --baseline base.json --max-drop 0.05
assert_rc 1
grep "^FAIL  calc" "$T/out" | grep -q "down 0.778, significant" || fail "7 flipped tasks of 9 are not called significant"

try "diff: per-suite deltas and exactly the flipped tasks, both ways"
mkproject
em --json old.json
mkworse
set_calc_agent worse.sh
em --json new.json
em diff old.json new.json
assert_rc 0
grep -q "^calc .*0.667 .*0.333 .*-0.333" "$T/out" || fail "no calc delta"
grep -q "^quiz .*+0.000" "$T/out" || fail "no quiz line"
flipped=$(grep '^  [a-z]*/' "$T/out" | awk '{print $1}')
check "flipped tasks" same_lines "$flipped" "calc/t1
calc/t2
calc/t3"
sed -n '/^pass -> fail:/,/^fail -> pass:/p' "$T/out" | grep -q "calc/t1" || fail "t1 is not listed as pass -> fail"
sed -n '/^fail -> pass:/,$p' "$T/out" | grep -q "calc/t3" || fail "t3 is not listed as fail -> pass"
em diff old.json new.json --json d.json
assert_json d.json '[.flips[] | .suite + "/" + .task + ":" + .now]' '["calc/t1:fail", "calc/t2:fail", "calc/t3:pass"]'
assert_json d.json '[.suites[] | select(.name == "calc") | .paired.tasks]' '[3]'
# NEW defaults to the current cached state, and runs nothing
rm -f calls
em diff old.json --json d2.json
assert_rc 0
assert_calls 0
check "the cached state diffs like the saved report" cmp <(jq -c .flips d.json) <(jq -c .flips d2.json)
em diff old.json old.json
grep -q "no task flipped" "$T/out" || fail "a report against itself flipped tasks"
em diff
assert_rc 2
em diff nosuch.json
assert_rc 2

# ---------------------------------------------------------------------------
# the lock

try "lock: check --locked passes on a fresh lock, fails after a prompt edit, passes after evalmake && evalmake lock"
mkproject
set_threshold calc 0.6
em
em lock
assert_rc 0
check "Evalfile.lock written" test -s Evalfile.lock
checks "the lock is sorted" 'tail -n +2 Evalfile.lock | LC_ALL=C sort -c'
checks "a line per cell" '[ "$(grep -c "#" Evalfile.lock)" = 13 ]' # 12 cells and the header
grep -q '^calc/t3#2 [0-9a-f]\{32\} [0-9a-f]\{32\} 0$' Evalfile.lock || fail "no line for calc/t3#2 with its keys and score"
rm -f calls
em check --locked
assert_rc 0
assert_calls 0
echo 'Question: {{input}}' >>prompts/calc.md
em check --locked
assert_rc 1
assert_calls 0
grep -q "^stale calc/t1#1: prompt template prompts/calc.md changed" "$T/out" || fail "the stale cells and the input are not named"
grep -q "stale quiz" "$T/out" && fail "quiz's cells are called stale"
grep -q "6 stale cells" "$T/out" || fail "no count of stale cells"
em lock
assert_rc 1 # cells not up to date: no lock is written
grep -q "calc/t1#1" "$T/err" || fail "lock does not name the cells that are not up to date"
em
assert_rc 0
em lock
assert_rc 0
rm -f calls
em check --locked
assert_rc 0
assert_calls 0

try "check --locked: works without the cache, notices a grader change, gates the locked scores"
mkproject
echo '{"id": "q 4", "input": "delta", "expected": "delta"}' >>tasks/quiz.jsonl # an id with a space
em
em lock
rm -rf cache calls
em check --locked --min-score 0.9 --junit j.xml
assert_rc 1
assert_calls 0
check "failing tasks from the lock" same_lines "$(junit_cases j.xml)" "calc/t3
quiz/q2
quiz/q3"
em check --locked --min-score 0.6
assert_rc 1
grep -q "^FAIL  quiz  0.500 ±0.289  min score 0.6" "$T/out" || fail "the locked scores were not gated"
grep -q "^ok    calc" "$T/out" || fail "calc's locked score did not pass"
sed -i 's/grader: {type: exact} # quiz/grader: {type: contains} # quiz/' Evalfile
em check --locked
assert_rc 1
grep -q "^stale quiz/q1#1: grader changed" "$T/out" || fail "a grader change is not named"
assert_calls 0
rm -f Evalfile.lock
em check --locked
assert_rc 1
grep -q "evalmake lock" "$T/err" || fail "a missing lock does not say how to write one"
printf '# evalmake lock 1: a header\n<<<<<<< HEAD\n' >Evalfile.lock
em check --locked
assert_rc 2
assert_calls 0

# ---------------------------------------------------------------------------
# history

try "history: a line per suite per run of evalmake and check, none for -n, -q, status"
mkproject
em
em check
em -n
em -q
em status
em check --locked # no lock: fails, and is no run
# the history table of index.db, a JSON line a row
history() { sqlite3 cache/index.db 'SELECT line FROM history ORDER BY seq' >"$T/history"; }
history
checks "4 history lines" '[ "$(wc -l <"$T/history")" = 4 ]'
checks "every line is JSON with the fields" \
	'jq -e "select(.time and .suite and (.score|type==\"number\") and (.stderr|type==\"number\") and .cells and (.ran|type==\"number\") and (.errors|type==\"number\"))" "$T/history" | grep -q suite'
sed -n 1p "$T/history" >"$T/h1.json"
sed -n 3p "$T/history" >"$T/h3.json"
assert_json "$T/h1.json" '[.suite, .ran, .partial]' '["calc", 6, false]'
assert_json "$T/h3.json" '[.suite, .ran, .command]' '["calc", 0, "check"]'
em calc/t1
history
tail -n 1 "$T/history" >"$T/h5.json"
assert_json "$T/h5.json" '[.suite, .cells, .partial]' '["calc", 2, true]'

# ---------------------------------------------------------------------------
# the HTML report

try "report --html: one offline page; Chromium renders every task's grid row and a cell's transcript"
mkproject
echo '{"id": "q4", "input": "</script><script>document.title=\"pwned\"</script><!--", "expected": "x"}' >>tasks/quiz.jsonl
em
em check
em report --html report.html
assert_rc 0
check "report.html written" test -s report.html
check "no network reference" ! grep -Eq '(src|href)="?(https?:)?//' report.html
checks "the data cannot end the script" '[ "$(grep -oi "</script" report.html | wc -l)" = 2 ]'
chrome "$T/dom.html" --dump-dom "file://$P/report.html#cell=calc%2Ft3%232"
check "chromium ran" test -s "$T/dom.html"
for t in t1 t2 t3 q1 q2 q3 q4; do
	grep -q "<tr data-task=\"$t\">" "$T/dom.html" || fail "task $t has no grid row"
done
checks "a button per cell" '[ "$(grep -o "data-cell=\"[a-z]*/[a-z0-9]*#[12]\"" "$T/dom.html" | sort -u | wc -l)" = 14 ]'
grep -q '<h3>calc/t3#2</h3>' "$T/dom.html" || fail "the linked cell is not shown"
grep -q '<pre data-part="transcript">agent: working on t3' "$T/dom.html" || fail "the cell's transcript did not render"
grep -q '<pre data-part="expected">THREE' "$T/dom.html" || fail "the expected answer did not render"
grep -q '<pre data-part="output">three' "$T/dom.html" || fail "the output did not render"
grep -q "<title>pwned" "$T/dom.html" && fail "task data ran as script"
grep -q '<circle' "$T/dom.html" || fail "no score-over-time points"
# the page escapes, the DOM shows text: a prompt's markup never becomes markup
grep -q '<script>document.title' "$T/dom.html" && fail "task data became markup"
chrome "$T/chrome.out" --window-size=1280,900 --screenshot="$T/report.png" "file://$P/report.html#cell=quiz%2Fq4%231"
check "a screenshot" test -s "$T/report.png"
if [ -n "${E2E_ARTIFACTS:-}" ]; then # keep the page and its picture for a CI run
	mkdir -p "$E2E_ARTIFACTS" && cp report.html "$T/report.png" "$E2E_ARTIFACTS/"
fi

finish
summary
