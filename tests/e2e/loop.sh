#!/usr/bin/env bash
# End-to-end tests of the training loop by hand: estimates that sharpen as
# cells land (the progress line on a terminal, watch --jsonl), the run's
# bounds (--until-stderr, --max-cells, --max-cost), and tokens and money
# (usage per suite in the table and the JSON report, pricing, -n's
# estimate, command agents' usage reports).
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/modelserver bash tests/e2e/loop.sh
#
# A terminal is given by script(1) (util-linux/bsdutils): the progress line
# is written only to a terminal, and script's typescript keeps every
# rewrite of it. Nothing here is timed: the first estimate is found by
# reading what was printed, in order.
# Needs: bash 5, coreutils, jq, pgrep, timeout, script.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_modelserver loop.sh
if ! command -v script >/dev/null; then
	echo "loop.sh: needs script (bsdutils)" >&2
	exit 2
fi
start_modelserver loop.sh
URL=http://127.0.0.1:$PORT
export EMKEY=sk-loop-test-key

SLOW=$(sleeper loop)

# N tasks in tasks.jsonl; task i expects i % 2, the agent always answers 1:
# odd tasks score 1, even ones 0, every iteration alike (a known variance)
mkparity() {
	local n=$1 i
	for ((i = 1; i <= n; i++)); do
		printf '{"id": "t%d", "input": "%d", "expected": "%d"}\n' "$i" "$i" $((i % 2))
	done >tasks.jsonl
}

# the parity suite's agent: logs its call, sleeps when $1 is set
mkparityagent() {
	cat >agent.sh <<EOF
#!/bin/sh
echo "\$EVAL_TASK \$EVAL_ITERATION" >>calls
${1:+"$SLOW" $1}
echo 1
EOF
	chmod +x agent.sh
}

# run evalmake ARGS... on a terminal (script), its typescript in $T/tty
em_tty() {
	last="evalmake $* (on a terminal)"
	local cmd="$E" a
	for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
	timeout -k 5 120 script -qfec "$cmd" "$T/tty" >/dev/null 2>&1
	rc=$?
	# each rewrite of the progress line on a line of its own
	tr '\r' '\n' <"$T/tty" | sed 's/\x1b\[K//g' >"$T/out"
}

# ---------------------------------------------------------------------------
try "the first estimate of a slow 200-cell suite shows within its first 10 cells (a run on a terminal)"
mkparity 100
mkparityagent 0.05
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 2
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em_tty -j2
assert_rc 0
# the first line carrying an estimate: "[k/200] par S ±E (n of 200 cells)"
first=$(grep -m1 -E '^\[[0-9]+/200\] par .*\(([0-9]+) of 200 cells\)' "$T/out")
n=$(printf '%s\n' "$first" | sed -E 's/.*\(([0-9]+) of 200 cells\).*/\1/')
checks "an estimate line appears (got: $first)" '[ -n "$first" ]'
checks "the first estimate comes within 10 cells (got $n)" '[ "${n:-999}" -le 10 ]'
checks "its standard error shows once two tasks are scored" 'grep -qE "^\[[0-9]+/200\] par [0-9.]+ ±0\.[0-9]+ \(([2-9]|10) of 200 cells\)" "$T/out"'
checks "it sharpens up to every cell" 'grep -q "(200 of 200 cells)" "$T/out"'
checks "the table follows" 'grep -q "^par  *0.500" "$T/out"'

try "watch on a terminal: the first estimate of a slow 200-cell suite within its first 10 cells"
mkparity 100
mkparityagent 0.05
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 2
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
last="evalmake watch -j2 (on a terminal)"
set -m
script -qfec "$(printf '%q' "$E") watch -j2" "$T/tty" >/dev/null 2>&1 &
spid=$!
set +m
BGPIDS+=("$spid")
checks "watch reports on its terminal" 'waitfor 60 "grep -q watching \"$T/tty\""'
# evalmake itself (script and its shell have other command lines)
wpid=$(pgrep -x -f -- "$E watch -j2")
checks "found the watcher" '[ -n "$wpid" ]'
[ -n "$wpid" ] && kill -INT $wpid
checks "it exits on Ctrl-C" 'waitfor 10 "! kill -0 $spid 2>/dev/null"'
tr '\r' '\n' <"$T/tty" | sed 's/\x1b\[K//g' >"$T/out"
first=$(grep -m1 -E '^\[[0-9]+/200\] par .*\(([0-9]+) of 200 cells\)' "$T/out")
n=$(printf '%s\n' "$first" | sed -E 's/.*\(([0-9]+) of 200 cells\).*/\1/')
checks "an estimate line appears (got: $first)" '[ -n "$first" ]'
checks "the first estimate comes within 10 cells (got $n)" '[ "${n:-999}" -le 10 ]'
checks "it sharpens up to every cell" 'grep -q "(200 of 200 cells)" "$T/out"'
checks "then the table and the watching line" 'grep -q "^par  *0.500" "$T/out" && grep -q "^watching" "$T/out"'

try "without a terminal a run prints no progress line, as before"
mkparity 4
mkparityagent
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em
assert_rc 0
checks "no estimate on stderr" '! grep -q "cells)" "$T/err"'
checks "stderr is empty" '[ ! -s "$T/err" ]'

try "watch --jsonl --estimates: a line per estimate update, the first within 10 cells, before the report"
mkparity 100
mkparityagent 0.05
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 2
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
bg_em watch --jsonl --estimates -j2
checks "the report line comes" 'waitfor 60 "grep -q suites \"$T/bg$nbg.out\""'
kill -INT "$bgpid"
bg_wait 10
out=$T/bg$nbg.out
checks "the first line is an estimate of 1 to 10 cells" '[ "$(head -n1 "$out" | jq ".estimate.cells_scored <= 10 and .estimate.cells == 200 and .estimate.suite == \"par\"")" = true ]'
checks "200 estimate lines, one per cell" '[ "$(grep -c "\"estimate\"" "$out")" = 200 ]'
checks "the standard error is null below two tasks, a number after" '[ "$(jq -s "map(select(.estimate)) | [.[0].estimate.stderr, (.[1].estimate.stderr|type)]" -c "$out")" = "[null,\"number\"]" ]'
checks "the last estimate is the report's score" '[ "$(jq -s "(map(select(.estimate))|last.estimate.score) == (map(select(.suites))|last.suites[0].score)" "$out")" = true ]'
checks "the report line comes after the estimates" '[ "$(tail -n1 "$out" | jq "has(\"suites\")")" = true ]'

try "--estimates off a terminal: a line per estimate on stderr, in a run and in watch; watch --jsonl alone keeps its report lines only"
mkparity 100
mkparityagent
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 2
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em -j2 --estimates
assert_rc 0
first=$(head -n1 "$T/err")
re='^\[[0-9]+/200\] par [0-9.]+ ±n/a \(([0-9]+) of 200 cells\)$'
checks "the first stderr line is an estimate within 10 cells ($first)" '[[ $first =~ $re ]] && [ "${BASH_REMATCH[1]}" -le 10 ]'
checks "200 estimate lines" '[ "$(grep -c "of 200 cells)" "$T/err")" = 200 ]'
checks "the table is as without" 'grep -q "^par  *0.500" "$T/out"'
rm -rf cache
bg_em watch -j2 --estimates
checks "watch reports" 'waitfor 60 "grep -q watching \"$T/bg$nbg.out\""'
kill -INT "$bgpid"
bg_wait 10
checks "watch printed the estimates on stderr" '[ "$(grep -c "of 200 cells)" "$T/err")" = 200 ]'
rm -rf cache
bg_em watch --jsonl -j2
checks "watch --jsonl reports" 'waitfor 60 "grep -q suites \"$T/bg$nbg.out\""'
kill -INT "$bgpid"
bg_wait 10
checks "without --estimates, only report lines" '[ "$(wc -l <"$T/bg$nbg.out")" = 1 ] && ! grep -q estimate "$T/bg$nbg.out"'

try "watch: a save runs the cells that failed first, then a seeded sample, then widens; a new save cancels the widening, losing no result"
# suite a: 30 tasks, t1..t5 failing (they expect "no"); suite b: one task.
# The agent sleeps 0.3 s a call (-j1), so the widening of a's 30 cells
# takes seconds: time enough for b's save to arrive during it
for ((i = 1; i <= 30; i++)); do
	want=yes
	[ "$i" -le 5 ] && want=no
	printf '{"id": "t%d", "input": "%d", "expected": "%s"}\n' "$i" "$i" "$want"
done >a.jsonl
echo '{"id": "u1", "input": "u", "expected": "yes"}' >b.jsonl
echo 'A {{input}}' >a.md
echo 'B {{input}}' >b.md
cat >agent.sh <<EOF
#!/bin/sh
echo "\$EVAL_SUITE/\$EVAL_TASK" >>calls
"$SLOW" 0.3
echo yes
EOF
chmod +x agent.sh
cat >Evalfile <<'EOF'
suites:
  a:
    tasks: a.jsonl
    prompt: a.md
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
  b:
    tasks: b.jsonl
    prompt: b.md
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em -j4
: >calls
bg_em watch --jsonl --estimates -j1
out=$T/bg$nbg.out
checks "watch starts (its first report)" 'waitfor 20 "grep -q suites \"$out\""'
sleep 0.3
echo 'A: {{input}}' >a.md
checks "the widening is under way (16 calls)" 'waitfor 30 "[ \$(wc -l <calls) -ge 16 ]"'
echo 'B: {{input}}' >b.md
checks "the update's report comes" 'waitfor 60 "[ \$(grep -c suites \"$out\") -ge 2 ]"'
kill -INT "$bgpid"
bg_wait 10
checks "the failed cells ran first" '[ "$(head -n5 calls | sort | tr "\n" " ")" = "a/t1 a/t2 a/t3 a/t4 a/t5 " ]'
checks "then a sample, not plan order" '[ "$(sed -n 6,15p calls | tr "\n" " ")" != "a/t6 a/t7 a/t8 a/t9 a/t10 a/t11 a/t12 a/t13 a/t14 a/t15 " ]'
sample=$(sed -n 6,15p calls | sort | tr "\n" " ")
bpos=$(grep -n '^b/u1$' calls | cut -d: -f1)
checks "b's save ran before the rest of a's widening (b at line $bpos of 31)" '[ -n "$bpos" ] && [ "$bpos" -lt 31 ]'
checks "every a cell ran once: no result lost, none run twice" '[ "$(grep -c "^a/" calls)" = 30 ] && [ "$(grep "^a/" calls | sort -u | wc -l)" = 30 ]'
checks "one update reported both saves" '[ "$(grep -c suites "$out")" = 2 ]'
em -q
assert_rc 0
# the same kind of save again samples the same cells (seeded)
: >calls
bg_em watch --jsonl -j1
out=$T/bg$nbg.out
checks "watch starts again" 'waitfor 20 "grep -q suites \"$out\""'
sleep 0.3
echo 'A:: {{input}}' >a.md
checks "the update's report comes" 'waitfor 60 "[ \$(grep -c suites \"$out\") -ge 2 ]"'
kill -INT "$bgpid"
bg_wait 10
checks "the same sample as before" '[ "$(sed -n 6,15p calls | sort | tr "\n" " ")" = "$sample" ]'

# ---------------------------------------------------------------------------
try "--until-stderr 0.05 stops within 20% of the cells the formula predicts"
# task means alternate 1, 0: with k tasks scored the standard error is
# sqrt(k/(4(k-1)) / k) or near it, 1/(2 sqrt(k-1)): <= 0.05 from k = 101
mkparity 300
mkparityagent
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em -j2 --until-stderr 0.05 --json r.json
assert_rc 0
ran=$(ncalls)
checks "ran $ran cells, predicted 101 (81..121)" '[ "$ran" -ge 81 ] && [ "$ran" -le 121 ]'
checks "the rest are not run, said so" 'grep -qE "^par: $((300 - ran)) cells not run \(stopped at stderr 0.05\)" "$T/out"'
checks "not errors" '[ "$(jq ".suites[0].errors" r.json)" = 0 ]'
checks "its stderr is at most 0.05" '[ "$(jq ".suites[0].stderr <= 0.05" r.json)" = true ]'
checks "the first tasks ran (iteration-major, in plan order)" 'grep -qx "t1 1" calls && grep -qx "t81 1" calls'
em -j2 --until-stderr 0.05
checks "a second run starts nothing new: the bound holds already" '[ "$(ncalls)" = "$ran" ]'
em -j1 --until-stderr 0.5
assert_rc 0

try "--max-cells N starts at most N cells; the rest are not run, exit 0"
mkparity 30
mkparityagent
cat >Evalfile <<'EOF'
suites:
  par:
    tasks: tasks.jsonl
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em -j3 --max-cells 7 --json r.json
assert_rc 0
checks "the JSON report says why 23 cells did not run" '[ "$(jq "[.suites[0].tasks[].cells[] | select(.not_run == \"max-cells\" and .status == \"pending\")] | length" r.json)" = 23 ]'
assert_calls 7
checks "23 cells not run" 'grep -q "^par: 23 cells not run (stopped at --max-cells 7)" "$T/out"'
checks "the table says partial" 'grep -q "partial: 7 of 30 cells scored" "$T/out"'
em --max-cells 0
assert_rc 2
em --until-stderr 0
assert_rc 2
em --until-stderr abc
assert_rc 2
em status --max-cells 3
assert_rc 2

# ---------------------------------------------------------------------------
# a model suite on the model server: REPLY: x is answered x
mkmodel() {
	local n=$1 i k words
	for ((i = 1; i <= n; i++)); do
		words="task $i"
		for ((k = 0; k < i * 3; k++)); do words+=" some word"; done
		printf '{"id": "q%d", "input": "%s", "expected": "%s"}\n' "$i" "$words" "$words"
	done >tasks.jsonl
	printf 'Answer with the word below.\nREPLY: {{input}}\n' >prompt.md
	cat >Evalfile <<EOF
pricing:
  m1: {input: 2.5, output: 10}
suites:
  qa:
    tasks: tasks.jsonl
    prompt: prompt.md
    iterations: 2
    agent: {provider: openai, model: m1, base_url: "$URL/v1", api_key_env: EMKEY}
    grader: {type: exact}
EOF
}

try "tokens and cost per suite in the table and the JSON report, from the model's usage"
mkmodel 6
em --json r.json
assert_rc 0
checks "the table has tokens and cost columns" 'grep -q "tokens in/out *cost" "$T/out"'
in=$(jq '.suites[0].usage.input_tokens' r.json)
out=$(jq '.suites[0].usage.output_tokens' r.json)
checks "input tokens counted ($in)" '[ "$in" -gt 0 ]'
checks "output tokens counted ($out)" '[ "$out" -gt 0 ]'
checks "12 cells with usage" '[ "$(jq .suites[0].usage.cells r.json)" = 12 ]'
want=$(awk -v i="$in" -v o="$out" 'BEGIN { printf "%.6f", (i * 2.5 + o * 10) / 1e6 }')
checks "the cost is priced ($want)" '[ "$(jq -r ".suites[0].usage.cost_usd * 1e6 | round" r.json)" = "$(awk -v w="$want" "BEGIN { printf \"%d\", w * 1e6 + 0.5 }")" ]'
checks "a total for the report" '[ "$(jq ".usage.input_tokens" r.json)" = "$in" ]'
checks "the row shows the cost" 'grep -qE "^qa .* [0-9.]+k?/[0-9.]+k? +[$]0\.[0-9]{4}" "$T/out"'
em --json r2.json
checks "a cached run shows the same tokens" '[ "$(jq ".suites[0].usage.input_tokens" r2.json)" = "$in" ]'
stats=$(curl -s "$URL/_stats" | jq .requests)
sed -i 's/output: 10/output: 20/' Evalfile
em --json r3.json
assert_rc 0
checks "editing pricing runs nothing" '[ "$(curl -s "$URL/_stats" | jq .requests)" = "$stats" ]'
checks "... and changes the cost" '[ "$(jq ".suites[0].usage.cost_usd > (.suites[0].usage.cost_usd * 0 + 0) and .suites[0].usage.cost_usd != $(jq .suites[0].usage.cost_usd r2.json)" r3.json)" = true ]'
em report --html page.html
checks "the HTML report shows tokens and cost" 'grep -q "tokens in / out" page.html && grep -q "\"usage\":{\"input_tokens\":$in," page.html'
# an index of version 1 (no token columns): migrated, usage read from meta.json
sqlite3 cache/index.db 'ALTER TABLE runs DROP COLUMN intok; ALTER TABLE runs DROP COLUMN outtok; ALTER TABLE runs DROP COLUMN model; PRAGMA user_version = 1;'
em --json r4.json
assert_rc 0
checks "migrated to the current version (3)" '[ "$(sqlite3 cache/index.db "PRAGMA user_version")" = 3 ]'
checks "the tokens come back from meta.json" '[ "$(jq ".suites[0].usage.input_tokens" r4.json)" = "$in" ]'
checks "and are written to the index" '[ "$(sqlite3 cache/index.db "SELECT count(*) FROM runs WHERE intok > 0")" = 12 ]'
checks "nothing ran for it" '[ "$(curl -s "$URL/_stats" | jq .requests)" = "$stats" ]'
em -q
assert_rc 0

try "-n estimates the tokens of the cells it would run within 10% of what the run uses"
mkmodel 8
em
assert_rc 0
printf 'Please answer with the words below, exactly as they are written, and say nothing else.\nREPLY: {{input}}\n' >prompt.md
em -n
assert_rc 0
line=$(grep '^qa: about' "$T/out")
checks "an estimate line ($line)" '[ -n "$line" ]'
est=$(printf '%s\n' "$line" | sed -E 's/.*about ([0-9.k]+) input.*/\1/')
cost=$(printf '%s\n' "$line" | sed -nE 's/.*about \$([0-9.]+)$/\1/p')
checks "it is priced ($cost)" '[ -n "$cost" ]'
em --json r.json
used=$(jq '.suites[0].usage.input_tokens' r.json)
checks "estimated $est input tokens, used $used: within 10%" 'awk -v e="$est" -v u="$used" "BEGIN { sub(/k$/, \"\", e); if (index(\"$est\", \"k\")) e *= 1000; d = e - u; if (d < 0) d = -d; exit !(d <= 0.1 * u) }"'
printf 'Another prompt.\nREPLY: {{input}}\n' >prompt.md
cat >>Evalfile <<'EOF'
  fresh:
    tasks: tasks.jsonl
    agent: {command: ./a.sh}
    grader: {type: exact}
EOF
printf '#!/bin/sh\ncat\n' >a.sh
chmod +x a.sh
em -n
checks "a suite never measured gets no estimate" '! grep -q "^fresh: about" "$T/out"'

try "--max-cost: no agent starts that would take the run's cost past the bound"
mkmodel 1
for ((i = 1; i <= 20; i++)); do
	printf '{"id": "e%02d", "input": "same length words %02d", "expected": "same length words %02d"}\n' "$i" "$i" "$i"
done >tasks.jsonl
sed -i 's/iterations: 2/iterations: 1/' Evalfile
em --max-cells 1 --json r1.json
assert_rc 0
one=$(jq '.suites[0].usage.cost_usd' r1.json)
checks "one cell's cost is known ($one)" '[ "$(jq ".suites[0].usage.cost_usd > 0" r1.json)" = true ]'
bound=$(awk -v c="$one" 'BEGIN { printf "%.10f", c * 5.5 }')
before=$(curl -s "$URL/_stats" | jq .requests)
em --max-cost "$bound" --json r2.json
assert_rc 0
ran=$(( $(curl -s "$URL/_stats" | jq .requests) - before ))
checks "5 cells ran at 1/5.5 of the bound each (got $ran)" '[ "$ran" = 5 ]'
checks "14 cells not run, said so" 'grep -q "^qa: 14 cells not run (stopped at --max-cost " "$T/out"'
checks "the run's cost stays within the bound" '[ "$(jq --argjson one "$one" --argjson b "$bound" ".suites[0].usage.cost_usd - \$one <= \$b" r2.json)" = true ]'
sed -i 's/^  m1: {input/  m9: {input/' Evalfile # pricing: names another model
em -B --max-cost 1 --max-cells 2
assert_rc 0
check "an unpriced model is said, once" test "$(grep -c "max-cost: .*which pricing: does not price" "$T/err")" = 1
sed -i '/^pricing:/,/^suites:/{/^suites:/!d}' Evalfile
em --max-cost 1
assert_rc 2
checks "without pricing it is refused" 'grep -q "max-cost.*no pricing" "$T/err"'
em --max-cost -3
assert_rc 2

try "pricing errors name file:line, exit 2, nothing run"
mkmodel 2
sed -i 's/m1: {input: 2.5, output: 10}/m1: {input: -1, output: 10}/' Evalfile
em
assert_rc 2
checks "names Evalfile:2 and the field" 'grep -q "Evalfile:2.*pricing.m1.input" "$T/err"'
sed -i 's/m1: {input: -1, output: 10}/m1: {input: 1}/' Evalfile
em
assert_rc 2
checks "a missing price" 'grep -q "Evalfile:2.*pricing.m1.output" "$T/err"'
sed -i 's/m1: {input: 1}/m1: {input: 1, output: 2, cached: 3}/' Evalfile
em
assert_rc 2
checks "an unknown key" 'grep -q "Evalfile:2.*cached" "$T/err"'
checks "nothing ran" '[ "$(curl -s "$URL/_stats" | jq .requests)" -ge 0 ] && [ "$(nruns)" = 0 ]'

try "a command agent reports usage by usage.json or an evalmake-usage: line on stderr"
cat >tasks.jsonl <<'EOF'
{"id": "a", "input": "file", "expected": "ok"}
{"id": "b", "input": "line", "expected": "ok"}
{"id": "c", "input": "none", "expected": "ok"}
{"id": "d", "input": "bad", "expected": "ok"}
EOF
cat >agent.sh <<'EOF'
#!/bin/sh
read -r how
case $how in
file) printf '{"input_tokens": 100, "output_tokens": 10, "model": "cm"}' >"$EVAL_OUT_DIR/usage.json" ;;
line) echo "thinking" >&2; echo 'evalmake-usage: {"input_tokens": 200, "output_tokens": 20}' >&2 ;;
bad) echo 'evalmake-usage: {"input_tokens": "many"}' >&2 ;;
esac
echo ok
EOF
chmod +x agent.sh
cat >Evalfile <<'EOF'
pricing:
  cm: {input: 1, output: 100}
suites:
  cmd:
    tasks: tasks.jsonl
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em --json r.json
assert_rc 0
assert_json r.json '.suites[0].usage' '{"input_tokens": 300, "output_tokens": 30, "cells": 2, "cost_usd": 0.0011}'
checks "a malformed report is named, not counted" 'grep -q "cmd/d#1: the evalmake-usage: line on stderr: expected" "$T/err"'
checks "meta.json keeps it" 'allparts meta.json | grep -qs "\"input_tokens\":[[:space:]]*100"'
cat >>Evalfile <<'EOF'
  again:
    tasks: tasks.jsonl
    iterations: 1
    agent: {command: ./agent.sh, deps: [agent.sh]}
    grader: {type: exact}
EOF
em --json r.json
assert_rc 0
checks "two suites: a total under the table" 'grep -qx "total: 600 input and 60 output tokens, \$0.0022" "$T/out"'
assert_json r.json '.usage' '{"input_tokens": 600, "output_tokens": 60, "cells": 4, "cost_usd": 0.0022}'

finish # count the last case too
stopserver
summary
