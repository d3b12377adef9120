#!/usr/bin/env bash
# End-to-end tests of how iterations become scores and how sure a score
# is: reduce: (mean, max, min, median, pass@K, pass^K) against values
# worked out by hand; changing reduce: or cluster: runs and grades
# nothing; flaky tasks named in the table, the JSON report, the HTML page
# and JUnit (Surefire's flakyFailure, valid against junit-10.xsd);
# cluster: gives the clustered standard error and the number of clusters;
# one task shows "n/a"; binary scores on a small suite get a Wilson
# interval; check --baseline's verdict never contradicts its interval and
# says the smallest change the suite could detect.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/reduce.sh
#
# Needs: bash, coreutils, jq, python3, xmllint, pgrep, timeout.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
XSD=$HERE/../junit-10.xsd

# 4 tasks x 5 iterations: t1 passes 3 times, t2 once, t3 always, t4
# never; t1, t2 share passage p1, t3, t4 passage p2
mkfixture() {
	cat >agent.sh <<'EOF'
#!/bin/sh
echo "$EVAL_TASK#$EVAL_ITERATION" >>calls
case "$EVAL_TASK:$EVAL_ITERATION" in t1:[123]|t2:1|t3:*) echo right ;; *) echo wrong ;; esac
EOF
	chmod +x agent.sh
	for t in 1 2 3 4; do
		echo "{\"id\":\"t$t\",\"input\":\"q$t\",\"expected\":\"right\",\"passage\":\"p$(((t + 1) / 2))\"}"
	done >tasks.jsonl
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: tasks.jsonl
    iterations: 5
    reduce: mean
    agent: {command: ./agent.sh}
    grader: {type: exact}
EOF
}

setreduce() {
	sed -i "s/^    reduce: .*/    reduce: $1/" Evalfile
}

# jqis FILE FILTER WANT: jq -c FILTER of FILE is WANT
jqis() {
	local got
	got=$(jq -c "$2" "$1" 2>&1)
	[ "$got" = "$3" ] || fail "$1: $2 is $got, expected $3"
}

try "reduce: each reduction gives the hand-worked task and suite scores"
mkfixture
em -s
assert_rc 0
# per task (passes of 5): t1 3, t2 1, t3 5, t4 0
#   mean     .6 .2 1 0         -> .45
#   max      1 1 1 0           -> .75
#   min      0 0 1 0           -> .25
#   median   1 0 1 0           -> .5
#   pass@2   1-C(2,2)/C(5,2)=.9, 1-C(4,2)/10=.4, 1, 0 -> .575
#   pass^2   C(3,2)/10=.3, 0, 1, 0                  -> .325
#   pass@5   1 1 1 0           -> .75
for r in "mean [0.6,0.2,1,0] 0.45" "max [1,1,1,0] 0.75" "min [0,0,1,0] 0.25" "median [1,0,1,0] 0.5" \
	"pass@2 [0.9,0.4,1,0] 0.575" "pass^2 [0.3,0,1,0] 0.325" "pass@5 [1,1,1,0] 0.75" "pass^1 [0.6,0.2,1,0] 0.45"; do
	set -- $r
	setreduce "$1"
	em -s --json r.json
	assert_rc 0
	jqis r.json '[.suites[0].tasks[].score]' "$2"
	jqis r.json '.suites[0].score' "$3"
	[ "$1" = mean ] || jqis r.json '.suites[0].reduce' "\"$1\""
done
setreduce pass@2
em
check "the table names the reduction" grep -q "^s .*0\.575.*pass@2" "$T/out"

try "reduce: changing it runs and grades nothing, and changes no key"
mkfixture
em -s
em lock
cp Evalfile.lock lock.before
n=$(ncalls)
for r in max pass@3 "pass^4" median; do
	setreduce "$r"
	em -q
	assert_rc 0
	em --json r.json
	assert_rc 0
	jqis r.json '[.ran, .regraded]' '[0,0]'
	em lock
	check "the lock is the same with reduce: $r" cmp Evalfile.lock lock.before
done
sed -i 's/^    reduce: .*/&\n    cluster: task.passage/' Evalfile
em -q
assert_rc 0
assert_calls "$n"

try "reduce: K past the iterations, or a bad value, is an error naming the line, exit 2, nothing run"
mkfixture
setreduce pass@6
em
assert_rc 2
check "names Evalfile:5" grep -q "Evalfile:5:.*pass@6 needs at least 6 iterations.*has 5" "$T/err"
assert_calls 0
for bad in "pass@0" "pass@x" "pass@" "avg" "pass@2.5"; do
	setreduce "$bad"
	em
	assert_rc 2
	check "reduce: $bad refused on its line" grep -q "Evalfile:5:.*reduce" "$T/err"
done
assert_calls 0
setreduce pass@3
em --iterations 2
assert_rc 2
check "--iterations below K is refused" grep -q "pass@3 needs at least 3 iterations, --iterations gives 2" "$T/err"
assert_calls 0
printf 'defaults:\n  reduce: pass@9\n' >>Evalfile
setreduce pass@3 # the suite's own wins over the defaults
em -s
assert_rc 0

try "flaky: named in the table, the JSON report, the HTML page and JUnit (flakyFailure)"
mkfixture
setreduce max
em
assert_rc 0
check "table: FLAKY t1" grep -q "^FLAKY s/t1  1.00  3 of 5 iterations pass" "$T/out"
check "table: FLAKY t2" grep -q "^FLAKY s/t2  1.00  1 of 5 iterations pass" "$T/out"
check "table: not t3" ! grep -q "FLAKY s/t3" "$T/out"
check "table: the count in the suite's row" grep -q "^s .*2 flaky" "$T/out"
em -s --json r.json
jqis r.json '[.suites[0].tasks[].flaky]' '[true,true,false,false]'
jqis r.json '.suites[0].flaky' 2
em report --html page.html
assert_rc 0
check "HTML: the grid marks flaky tasks" grep -q "FLAKY" page.html
check "HTML: the data says which" grep -q '"id":"t1","score":1,"flaky":true' page.html
em check --junit j.xml
assert_rc 0
xmllint --noout --schema "$XSD" j.xml >"$T/xsd" 2>&1 || fail "j.xml is not valid against junit-10.xsd: $(head -c 300 "$T/xsd")"
python3 - j.xml >"$T/junit" 2>&1 <<'EOF' || fail "JUnit: $(cat "$T/junit")"
import sys, xml.etree.ElementTree as ET
cases = {c.get("name"): c for c in ET.parse(sys.argv[1]).iter("testcase")}
ff = lambda n: [f.get("message") for f in cases[n].findall("flakyFailure")]
assert len(ff("t1")) == 2 and "#4" in ff("t1")[0] and "3 of 5" in ff("t1")[0], ff("t1")
assert len(ff("t2")) == 4, ff("t2")
assert ff("t3") == [] and ff("t4") == [], (ff("t3"), ff("t4"))
for n in ("t1", "t2"):  # passing: no failure, no error
    assert cases[n].find("failure") is None and cases[n].find("error") is None
EOF

# under a failing gate a flaky task fails, and its <failure> says flaky
setreduce mean
sed -i 's/^    reduce: mean$/&\n    threshold: 0.9/' Evalfile
em check --junit j2.xml
assert_rc 1
xmllint --noout --schema "$XSD" j2.xml >"$T/xsd" 2>&1 || fail "j2.xml is not valid against junit-10.xsd: $(head -c 300 "$T/xsd")"
python3 - j2.xml >"$T/junit" 2>&1 <<'EOF' || fail "JUnit (failing gate): $(cat "$T/junit")"
import sys, xml.etree.ElementTree as ET
cases = {c.get("name"): c for c in ET.parse(sys.argv[1]).iter("testcase")}
f = cases["t1"].find("failure")
assert f is not None and "flaky" in f.get("message"), f
assert "flaky" not in cases["t4"].find("failure").get("message")
EOF

try "cluster: the clustered standard error and the number of clusters"
mkfixture
sed -i 's/^    reduce: .*/&\n    cluster: task.passage/' Evalfile
em
assert_rc 0
check "table: clustered, 2 clusters" grep -q "^s .*0\.450  ±0\.050 .*stderr clustered by passage: 2 clusters" "$T/out"
em -s --json r.json
# reference: task scores .6 .2 1 0, mean .45; cluster residual sums
# (.15 - .25) = -.1 and (.55 - .45) = .1; sqrt(2/1 * .02) / 4 = .05
python3 - r.json >"$T/py" 2>&1 <<'EOF' || fail "clustered SE: $(cat "$T/py")"
import json, math, sys
s = json.load(open(sys.argv[1]))["suites"][0]
x = [t["score"] for t in s["tasks"]]; cl = ["p1", "p1", "p2", "p2"]
m = sum(x) / len(x); r = {}
for v, c in zip(x, cl): r[c] = r.get(c, 0) + v - m
g = len(r); want = math.sqrt(g / (g - 1) * sum(v * v for v in r.values())) / len(x)
assert abs(s["stderr"] - want) < 1e-6, (s["stderr"], want)
assert s["clusters"] == 2 and s["cluster"] == "passage", s
plain = math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1) / len(x))
assert abs(s["stderr_tasks"] - plain) < 1e-6, (s["stderr_tasks"], plain)
EOF
# a task without the field is a cluster of its own
echo '{"id":"t5","input":"q5","expected":"right"}' >>tasks.jsonl
em -s --json r.json
jqis r.json '.suites[0].clusters' 3
# one cluster: nothing to estimate from
sed -i 's/"passage":"p[12]"/"passage":"same"/' tasks.jsonl
sed -i '$d' tasks.jsonl
em
check "one cluster: n/a" grep -q "^s .*0\.450  *n/a .*1 cluster" "$T/out"

try "one task: stderr n/a, never ±0.000; binary scores get a Wilson interval"
mkfixture
em s/t1
assert_rc 0
check "n/a in the table" grep -q "^s  *0\.600  *n/a" "$T/out"
check "never ±0.000" ! grep -q "±0.000" "$T/out"
em -s --json r.json s/t1
jqis r.json '.suites[0].stderr' null
em -s --json r.json
jqis r.json '.suites[0].ci95' null # mean of iterations: not binary
setreduce max
em
check "the table says Wilson" grep -q "95% CI \[0\.301, 0\.954\] (Wilson)" "$T/out"
em -s --json r.json
# Wilson 3 of 4 (python3, the formula in stats.h; as statsmodels' proportion_confint)
jqis r.json '[.suites[0].ci95, .suites[0].ci_method]' '[[0.300642,0.954413],"wilson"]'

try "check --baseline: the verdict never contradicts its interval, and says what it could detect"
mkfixture
em -s
cat >base.json <<'EOF'
{"version": 1, "suites": [{"name": "s", "score": 0.125, "stderr": 0.1,
 "tasks": [{"id": "t1", "score": 0}, {"id": "t2", "score": 0}, {"id": "t3", "score": 0.5}, {"id": "t4", "score": 0}]}]}
EOF
em check --baseline base.json --max-drop 0
assert_rc 0
check "up, with the test that held it back" grep -q "up 0.325, not significant: the sign test finds no clear direction (sign test p=0.25: 0 worse, 3 better of 4 shared tasks), although the paired bootstrap 95% CI \[+" "$T/out"
check "the MDE" grep -q "with 4 tasks it detects a change of [0-9.]* or more at 80% power (MDE)" "$T/out"
check "never 'not significant (95% CI'" ! grep -q "not significant (95% CI" "$T/out"
# the issue's example: 5 tasks up by .1 .2 .4 .6 .7, in diff
for side in old new; do
	python3 - $side >$side.json <<'EOF'
import json, sys
d = [0.1, 0.2, 0.4, 0.6, 0.7]
sc = [0] * 5 if sys.argv[1] == "old" else d
print(json.dumps({"version": 1, "suites": [{"name": "x", "score": sum(sc) / 5,
      "tasks": [{"id": "t%d" % i, "score": v} for i, v in enumerate(sc)]}]}))
EOF
done
em diff old.json new.json
assert_rc 0
check "diff: the sign test held it back" grep -q "not significant: the sign test finds no clear direction (sign test p=0.0625" "$T/out"
check "diff: never 'not significant (95% CI'" ! grep -q "not significant (95% CI" "$T/out"

try "Wilson's interval is for independent tasks: not beside a clustered standard error"
mkfixture
setreduce max # task scores 1 1 1 0: binary
em -s --json r.json
em
check "unclustered: the Wilson interval" grep -q "^s .*(Wilson)" "$T/out"
sed -i 's/^    reduce: .*/&\n    cluster: task.passage/' Evalfile
em --json r2.json
assert_rc 0
check "clustered: none" ! grep -q "Wilson" "$T/out"
jqis r2.json '.suites[0].ci95' null

finish
summary
