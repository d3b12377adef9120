#!/usr/bin/env bash
# End-to-end tests of suites with several graders (graders: [...]): a score
# column each, in the table, the JSON report, JUnit and log; a grade key
# each, so adding or changing one grader grades with it alone and runs no
# agent; weights; an error in one grader; and single-grader suites keeping
# the keys they always had (a lock written before graders: existed).
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/graders.sh
# (without MODELSERVER, the cases with judges are skipped)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# jqis FILE FILTER WANT: the filter's value equals the JSON value WANT
jqis() {
	jq -e --argjson want "$3" "($2) == \$want" "$1" >/dev/null 2>&1 ||
		fail "$1: $2 is $(jq -c "$2" "$1" 2>&1 | head -c 300), expected $3"
}
# how many times grader script $1 ran (each run appends its name to gcalls)
ngrades() {
	if [ -f gcalls ]; then grep -c "^$1\$" gcalls; else echo 0; fi
}

# a project: 3 tasks, an agent echoing its input; grader scripts g1.sh
# (1 when the output is the expected answer, else 0) and g2.sh (always
# 0.5), each logging its name to ./gcalls
mkgraders() {
	cat >t.jsonl <<'EOF'
{"id": "a", "input": "1", "answer": "1"}
{"id": "b", "input": "2", "answer": "2"}
{"id": "c", "input": "3", "answer": "4"}
EOF
	printf '#!/bin/sh\necho "$EVAL_TASK" >>calls\ncat\n' >agent.sh
	cat >g1.sh <<'EOF'
#!/bin/sh
echo g1 >>gcalls
if [ "$(cat)" = "$EVAL_EXPECTED" ]; then echo "1 same"; else echo "0 differs"; fi
EOF
	cat >g2.sh <<'EOF'
#!/bin/sh
echo g2 >>gcalls
cat >/dev/null
echo "half of it" >&2
echo "0.5 half"
EOF
	chmod +x agent.sh g1.sh g2.sh
	cat >Evalfile <<'EOF'
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    graders:
      - {name: exact, type: exact}
      - {name: script, type: command, command: ./g1.sh}
      - {name: half, type: command, command: ./g2.sh}
EOF
}

try "two graders and more: a score column each in the table; the first decides the suite's score"
mkgraders
em --json r.json
assert_rc 0
assert_calls 3
check "table: a graders column" grep -q 'graders' "$T/out"
check "table: each grader's score" grep -Eq '^s .*exact 0\.667  script 0\.667  half 0\.500' "$T/out"
jqis r.json '.suites[0].score' 0.666667
jqis r.json '.suites[0].scores' '{"exact": 0.666667, "script": 0.666667, "half": 0.5}'
jqis r.json "$(cellsel s a 1) | .scores)" '{"exact": 1, "script": 1, "half": 0.5}'
jqis r.json "$(cellsel s c 1) | .scores)" '{"exact": 0, "script": 0, "half": 0.5}'
jqis r.json "$(cellscore s a 1)" 1
jqis r.json '.suites[0].tasks[] | select(.id == "c") | .scores' '{"exact": 0, "script": 0, "half": 0.5}'
em
assert_rc 0
assert_calls 3
checks "a second run grades with nobody" '[ "$(ngrades g1)" = 3 ] && [ "$(ngrades g2)" = 3 ]'
em -q
assert_rc 0

try "adding a grader runs no agent and grades with the new one alone"
mkgraders
em
assert_rc 0
cp g2.sh g3.sh
sed -i 's/g2/g3/; s/0.5 half/0.25 quarter/' g3.sh
cat >>Evalfile <<'EOF'
      - {name: quarter, type: command, command: ./g3.sh}
      - {name: has, type: contains}
EOF
em -n
check "-n: graded again, not run" grep -q 'graded' "$T/out"
em explain 's/a#1'
check "explain names the grader not graded yet" grep -q "not graded by 'quarter', 'has'" "$T/out"
em --json r.json
assert_rc 0
assert_calls 3
checks "the old graders did not run again" '[ "$(ngrades g1)" = 3 ] && [ "$(ngrades g2)" = 3 ]'
checks "the new one ran once per cell" '[ "$(ngrades g3)" = 3 ]'
jqis r.json "$(cellsel s b 1) | .scores)" '{"exact": 1, "script": 1, "half": 0.5, "quarter": 0.25, "has": 1}'

try "changing one grader re-grades with it alone; renaming one re-grades nothing"
mkgraders
em
assert_rc 0
sed -i 's/0.5 half/0.75 more/' g2.sh
em --json r.json
assert_rc 0
assert_calls 3
checks "g1 did not run again" '[ "$(ngrades g1)" = 3 ]'
checks "g2 ran again for every cell" '[ "$(ngrades g2)" = 6 ]'
jqis r.json '.suites[0].scores.half' 0.75
sed -i 's/name: half/name: most/' Evalfile
em --json r.json
assert_rc 0
checks "a new name is no new grader" '[ "$(ngrades g1)" = 3 ] && [ "$(ngrades g2)" = 6 ]'
jqis r.json '.suites[0].scores.most' 0.75
# a single grader turned into the first of a list keeps its grades
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: command, command: ./g1.sh}
EOF
em
assert_rc 0
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    graders:
      - {type: command, command: ./g1.sh}
      - {name: more, type: command, command: ./g2.sh}
EOF
em
assert_rc 0
assert_calls 3
# (the second's config is one it graded with above, under another name)
checks "the first grader kept its grades, and so did the second" '[ "$(ngrades g1)" = 3 ] && [ "$(ngrades g2)" = 6 ]'

try "weights: the cell's score is the weighted mean; check's threshold sees it"
mkgraders
cat >Evalfile <<'EOF'
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    threshold: 0.6
    graders:
      - {name: exact, type: exact, weight: 1}
      - {name: half, type: command, command: ./g2.sh, weight: 3}
EOF
em --json r.json
assert_rc 0
# a and b: (1 + 3 * 0.5) / 4 = 0.625; c: 1.5 / 4 = 0.375
jqis r.json "$(cellscore s a 1)" 0.625
jqis r.json "$(cellscore s c 1)" 0.375
jqis r.json '.suites[0].score' 0.541667
em check
assert_rc 1
check "the gate fails on the weighted score" grep -q '0.542' "$T/out"
sed -i 's/, weight: 3//' Evalfile
em
assert_rc 2
check "a weight on some graders only: exit 2 naming it" grep -q 'Evalfile:7:.*give every one a weight, or none' "$T/err"
assert_calls 3

try "bad graders: lists and names are checked before anything runs"
mkgraders
sed -i 's/name: script/name: exact/' Evalfile
em
assert_rc 2
check "a duplicate name" grep -q "graders\[1\]: a second grader named 'exact'" "$T/err"
mkgraders
printf '    grader: {type: exact}\n' >>Evalfile
em
assert_rc 2
check "grader and graders" grep -q "has both 'grader' and 'graders'" "$T/err"
mkgraders
sed -i 's/name: half/name: "a b"/' Evalfile
em
assert_rc 2
check "a name with a space" grep -q "graders\[2\].name: expected a name" "$T/err"
mkgraders
sed -i 's/- {name: half, type: command, command: .\/g2.sh}/- {name: num, type: numeric}/' Evalfile
sed -i 's/"answer": "4"/"answer": "four"/' t.jsonl
em
assert_rc 2
check "any grader's needs are checked: numeric wants numbers" grep -q "'four'" "$T/err"
assert_calls 0

try "an error in one grader makes the cell an error naming the grader"
mkgraders
printf '#!/bin/sh\necho g2 >>gcalls\necho broken >&2\nexit 3\n' >g2.sh
em -k --json r.json
assert_rc 1
check "the error names the grader" grep -q "s/a#1: grader 'half'" "$T/err"
jqis r.json "$(cellstatus s a 1)" '"error"'
jqis r.json "$(cellsel s a 1) | .scores)" '{"exact": null, "script": null, "half": null}'
jqis r.json '.suites[0].errors' 3
printf '#!/bin/sh\necho g2 >>gcalls\necho 1\n' >g2.sh
em --json r.json
assert_rc 0
assert_calls 3
checks "only the failed grader ran again" '[ "$(ngrades g1)" = 3 ]'
jqis r.json '.suites[0].scores.half' 1

try "log shows each grader's score, reason and stderr; JUnit parses and has each grader's scores"
mkgraders
em
assert_rc 0
em log 's/c#1'
assert_rc 0
check "log: the cell's score" grep -A1 -x '== grade' "$T/out"
check "log: exact's grade" grep -A1 -x '== grade by exact (exact)' "$T/out"
check "log: the script's score and reason" grep -qx '0  differs' "$T/out"
check "log: the half grader's" grep -qx '0.5  half' "$T/out"
check "log: its stderr" grep -q 'half of it' "$T/out"
em check --junit j.xml
assert_rc 0
check "JUnit parses" python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse("j.xml").getroot()
s = r.find("testsuite")
props = {p.get("name"): p.get("value") for p in s.find("properties")}
assert props["score: exact"] == "0.666667" and props["score: half"] == "0.5", props
cases = {c.get("name"): c for c in s.findall("testcase")}
pa = {p.get("name"): p.get("value") for p in cases["a"].find("properties")}
assert pa == {"score: exact": "1", "score: script": "1", "score: half": "0.5"}, pa
# no gate failed (check passed): the task passes, its details in system-out
assert cases["c"].find("failure") is None
assert "half: 0.5" in cases["c"].find("system-out").text
'
em report --html page.html
assert_rc 0
check "the page carries each grader's scores and reasons" grep -q '"reasons":{"script":"same","half":"half"}' page.html

try "lock and check --locked with several graders: one combined grade key per cell"
mkgraders
em
em lock
assert_rc 0
em check --locked
assert_rc 0
sed -i 's/0.5 half/0.75 more/' g2.sh
em check --locked
assert_rc 1
check "a changed grader makes the lock stale" grep -q 'stale s/a#1: grader changed' "$T/out"

try "single-grader suites keep the keys they had before graders: (a lock written then is up to date)"
printf '{"id": "a", "input": "1", "answer": "1"}\n{"id": "b", "input": "2", "answer": "3"}\n' >t.jsonl
printf '#!/bin/sh\ncat\n' >agent.sh
printf '#!/bin/sh\necho 1 fine\n' >grade.sh
chmod +x agent.sh grade.sh
cat >Evalfile <<'EOF'
suites:
  one:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: exact}
  cmd:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    grader: {type: command, command: ./grade.sh}
EOF
# written by evalmake before several graders existed
cat >Evalfile.lock <<'EOF'
# evalmake lock 1: SUITE PART HASH, SUITE/TASK#K RUNKEY GRADEKEY SCORE; sorted; written by `evalmake lock`
cmd agent 30e3b7adf50e9660b8b388d29e857e22
cmd deps f0bbea527a40ff20abaa8d7a67b969e2
cmd grader 34f4fdd71983e10b3bd0a8f7f6148e5c
cmd prompt 00000000000000000000000000000000
cmd/a#1 30cde4a64b58201cf8d2366ba3881308 f253d95509fb51d3455cd35362cc6cd6 1
cmd/b#1 caf162e53f23bec1c4876382bd25e6cc 75c33f6445d357ec91dd2b3971fdbb9a 1
one agent 30e3b7adf50e9660b8b388d29e857e22
one deps f0bbea527a40ff20abaa8d7a67b969e2
one grader 36e7cf6c1e31a3e3b8ca0269ccbbfbe2
one prompt 00000000000000000000000000000000
one/a#1 30cde4a64b58201cf8d2366ba3881308 e9dd6da61ecb629817e46ba35ad923e4 1
one/b#1 caf162e53f23bec1c4876382bd25e6cc 24e1bb1e060be4d90c6211143d326139 0
EOF
cp Evalfile.lock old.lock
em
assert_rc 0
em lock
assert_rc 0
check "the lock is unchanged: same run keys, grade keys and scores" cmp Evalfile.lock old.lock
em check --locked
assert_rc 0

# ---------------------------------------------------------------------------
# judges, through the local model server: one over the OpenAI API, one over
# the Anthropic API, so the server's counters by path tell them apart

MS=${MODELSERVER:-}
case $MS in "" | /*) ;; *) MS=$PWD/$MS ;; esac
if [ -n "$MS" ] && [ -x "$MS" ] && command -v curl >/dev/null; then
	export EMKEY=sk-test-graders-2468
	start_modelserver graders.sh
	URL=http://127.0.0.1:$PORT
	msstat() { # msstat PATH: requests to it since the last reset
		curl -s "$URL/_stats" | jq -r --arg p "$1" '.by_path[$p] // 0'
	}

	try "two judges and exact: each scores; changing one judge's rubric asks that judge alone"
	curl -s -X POST "$URL/_reset" >/dev/null
	mkgraders
	printf 'Grade: {{output}}\nREPLY: SCORE: 0.5\n' >r1.md
	printf 'Grade: {{output}}\nREPLY: SCORE: 0.25\n' >r2.md
	cat >Evalfile <<EOF
suites:
  s:
    tasks: t.jsonl
    agent: {command: ./agent.sh}
    graders:
      - {name: exact, type: exact}
      - {name: j1, type: judge, provider: openai, model: m, base_url: "$URL/v1", api_key_env: EMKEY, rubric: r1.md, retries: 0}
      - {name: j2, type: judge, provider: anthropic, model: m, base_url: "$URL", api_key_env: EMKEY, rubric: r2.md, retries: 0}
EOF
	em --json r.json
	assert_rc 0
	assert_calls 3
	jqis r.json '.suites[0].scores' '{"exact": 0.666667, "j1": 0.5, "j2": 0.25}'
	checks "each judge asked once per cell" '[ "$(msstat /v1/chat/completions)" = 3 ] && [ "$(msstat /v1/messages)" = 3 ]'
	curl -s -X POST "$URL/_reset" >/dev/null
	sed -i 's/SCORE: 0.25/SCORE: 1/' r2.md
	em --json r.json
	assert_rc 0
	assert_calls 3
	jqis r.json '.suites[0].scores' '{"exact": 0.666667, "j1": 0.5, "j2": 1}'
	checks "j1 not asked again, j2 asked once per cell" '[ "$(msstat /v1/chat/completions)" = 0 ] && [ "$(msstat /v1/messages)" = 3 ]'
fi

finish
summary
