#!/usr/bin/env bash
# End-to-end tests of the small run entries kept inline in CACHE/index.db
# (schema version 2): no file for an entry without artifacts, a folder for
# one with artifacts or a part over 256 KiB, kill -9 leaves no partial
# entry, and a cache made by the evalmake before version 2 (built here
# from commit 9817415, when the repository is at hand) keeps every result.
#
#   EVALMAKE=/abs/evalmake MODELSERVER=/abs/build/modelserver bash tests/e2e/store2.sh
#
# Needs: bash, coreutils, jq, sqlite3, zstd, git and make (the old build).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
MS=${MODELSERVER:-}
case $MS in "" | /*) ;; *) MS=$PWD/$MS ;; esac
if [ ! -x "$MS" ] || ! command -v sqlite3 >/dev/null || ! command -v zstd >/dev/null; then
	echo "store2.sh: needs MODELSERVER, sqlite3 and zstd" >&2
	exit 2
fi
export EMKEY=sk-test-store2-91827364
start_modelserver store2.sh
q() { sqlite3 cache/index.db "$1"; }
scores() { jq -c '[.suites[] | {name, score, tasks: [.tasks[] | {id, cells: [.cells[] | {iteration, score, key}]}]}]' "$1"; }

# the standard project plus a suite of model calls ("REPLY: x" answers x)
mkmixed() {
	mkproject
	printf '{"id": "m1", "input": "REPLY: one", "expected": "one"}\n{"id": "m2", "input": "REPLY: two", "expected": "two"}\n' >model.jsonl
	cat >>Evalfile <<EOF
  model:
    tasks: model.jsonl
    agent: {provider: openai, model: m1, base_url: "http://127.0.0.1:$PORT/v1", api_key_env: EMKEY, retries: 0}
EOF
}

try "small entries are rows of index.db: no file, no folder; each part reads back"
mkmixed
em --json r.json
assert_rc 0
assert_json r.json '.ran' 16
check "no file under runs/ (got $(find cache/runs -type f | wc -l))" [ "$(find cache/runs -type f 2>/dev/null | wc -l)" = 0 ]
check "16 entries in the index (got $(q 'SELECT count(*) FROM entries'))" [ "$(q 'SELECT count(*) FROM entries')" = 16 ]
check "every entry has its run row" [ "$(q 'SELECT count(*) FROM entries e JOIN runs r ON r.key = e.key')" = 16 ]
check "schema version 3" [ "$(q 'PRAGMA user_version')" = 3 ]
check "every entry whole" entries_whole
k=$(jq -r "$(cellsel model m1 1) | .key)" r.json)
checks "a model call's output reads back" "[ \"\$(part cache/runs/${k:0:2}/$k output)\" = one ]"
checks "... and its request" "part cache/runs/${k:0:2}/$k request.json | jq -e '.model == \"m1\"' >/dev/null"
checks "some entries are compressed (meta.json and the request compress)" "[ \$(q 'SELECT count(*) FROM entries WHERE zstd = 1') -gt 0 ]"
em log 'model/m1#1'
assert_rc 0
checks "log shows the output" "grep -qx one '$T/out'"
checks "log says where it is stored" "grep -q 'stored result (.*index.db, entry $k)' '$T/out'"
checks "no artifacts line" "! grep -q '== artifacts' '$T/out'"
rm -f calls
em
assert_rc 0
assert_calls 0
checks "the key is in no entry" "! cache_has $EMKEY"

try "an agent that leaves artifacts, or a part over 256 KiB: a folder"
mkproject
sed -i '2a [ "$EVAL_TASK" = t1 ] && echo kept >"$EVAL_OUT_DIR/note"\n[ "$EVAL_TASK" = t2 ] && head -c 300000 /dev/zero | tr "\\\\0" x >&2' agent.sh
em --json r.json
assert_rc 0
check "4 folders (t1 and t2, 2 iterations; got $(ls -d cache/runs/*/* | wc -l))" [ "$(find cache/runs -mindepth 2 -maxdepth 2 -type d | wc -l)" = 4 ]
check "the artifact kept" [ "$(find cache/runs -path '*/artifacts/note' | wc -l)" = 2 ]
check "the others are rows (8)" [ "$(q 'SELECT count(*) FROM entries')" = 8 ]
em log 'calc/t1#1'
checks "log points at the artifacts" "grep -q -A1 '== artifacts' '$T/out' && grep -q 'runs/.*/artifacts$' '$T/out'"
rm -f calls
em
assert_calls 0
# the folders survive the loss of index.db; the rows go with it
rm -f cache/index.db cache/index.db-wal cache/index.db-shm
em
assert_rc 0
check "only the row entries run again (8; got $(ncalls))" [ "$(ncalls)" = 8 ]
checks "t1 and t2 found on disk" "! grep -q 'calc t[12] ' calls"

try "gc drops rows no cell refers to, with the same report as for files"
mkproject
em
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
check "18 entries" [ "$(nruns)" = 18 ]
em gc --all -n
checks "would remove the 6 old ones" "grep -q '^would remove 6 cache entries' '$T/out'"
em gc --all
assert_rc 0
check "12 left (got $(nruns))" [ "$(nruns)" = 12 ]
check "their run rows went with them" [ "$(q 'SELECT count(*) FROM runs')" = 12 ]
rm -f calls
em
assert_calls 0

try "kill -9 while entries are written: no partial entry, every row whole"
mkproject 8
sed -i '2a sleep 0.0$((RANDOM % 5))' agent.sh
for i in 1 2 3 4 5; do
	bg_em -j4
	sleep "0.$((RANDOM % 4 + 1))"
	kill -9 "$bgpid" 2>/dev/null
	bg_wait 10
	entries_whole || fail "after kill #$i: an entry is not whole"
	[ "$(q 'PRAGMA integrity_check')" = ok ] || fail "after kill #$i: the database does not check out"
	[ "$(q 'SELECT count(*) FROM entries e LEFT JOIN runs r ON r.key = e.key WHERE r.key IS NULL')" = 0 ] ||
		fail "after kill #$i: an entry without its run row"
done
em --json r.json
assert_rc 0
assert_json r.json '.errors' 0
rm -f calls
em
assert_calls 0

# watchlines ARGS...: watch --jsonl ARGS in the background; its first line
# (the initial run) in l1.json; then t1's input is edited and the next
# line goes to l2.json; the watcher is stopped
watchlines() {
	bg_em watch --jsonl "$@"
	local out=$T/bg$nbg.out
	waitfor 30 "[ -s '$out' ]" || fail "no first line"
	printf 'nine\n' >tasks/calc/t1/input.txt
	waitfor 30 "[ \$(wc -l <'$out') -ge 2 ]" || fail "no line after the edit"
	sed -n 1p "$out" >l1.json
	sed -n 2p "$out" >l2.json
	kill -INT "$bgpid"
	bg_wait 10
}

try "watch --jsonl: after the first line, a line holds every suite and only the cells that changed"
mkproject
watchlines
assert_json l1.json '[.full, ([.suites[].tasks[].cells[]] | length)]' '[true, 12]'
assert_json l2.json '.full' false
assert_json l2.json '.trigger' '["tasks/calc/t1/input.txt"]'
assert_json l2.json '[.suites[].name]' '["calc", "quiz"]'
assert_json l2.json '[.suites[].cells_total]' '[6, 6]'
assert_json l2.json '[.suites[] | .tasks[] | .id]' '["t1"]'
assert_json l2.json '[.suites[].tasks[].cells[] | [.iteration, .status]]' '[[1, "ran"], [2, "ran"]]'
assert_json l2.json '[.ran, .cached]' '[2, 10]'

try "watch --jsonl --full: every line the whole report"
mkproject
watchlines --full
assert_json l2.json '[.full, ([.suites[].tasks[].cells[]] | length)]' '[true, 12]'
assert_json l2.json '[.suites[0].tasks[] | .id]' '["t1", "t2", "t3"]'

try "status --json streams the report: the same bytes to a file and to stdout"
mkproject
printf '#!/bin/sh\necho "0.5 half"\n' >half.sh
chmod +x half.sh
sed -i 's#grader: {type: exact} \# calc#graders: [{type: exact}, {name: half, type: command, command: ./half.sh}] \# calc#' Evalfile
printf 't2\n' >fail
em -k
em status --json st.json
assert_rc 0
"$E" status --json - 2>/dev/null >st2.json
check "the same bytes" cmp st.json st2.json
check "valid JSON" jq -e . st.json
check "each grader's score" jq -e '.suites[0].tasks[0].cells[0].scores.half == 0.5' st.json

try "a cache made by the evalmake before inline entries keeps every result"
src=$(cd "$HERE/../.." && pwd)
if ! git -C "$src" cat-file -e 9817415^{commit} 2>/dev/null; then
	echo "# skipped: commit 9817415 is not in $src" >&2
else
	mkdir -p "$TOP/old"
	[ -x "$TOP/old/evalmake" ] ||
		{ git -C "$src" archive 9817415 | tar -x -C "$TOP/old" && make -s -C "$TOP/old" evalmake >"$TOP/old.log" 2>&1; } ||
		fail "cannot build the old evalmake: $(tail -5 "$TOP/old.log")"
	mkmixed
	sed -i '2a [ "$EVAL_TASK" = t1 ] && echo kept >"$EVAL_OUT_DIR/note"' agent.sh
	EVALMAKE_OLD=$TOP/old/evalmake
	(E=$EVALMAKE_OLD; em --json old.json)
	"$EVALMAKE_OLD" status --json old-status.json >/dev/null 2>&1
	check "the old evalmake made folders and packed files" [ "$(find cache/runs -mindepth 2 -maxdepth 2 -type f | wc -l)" = 4 ]
	check "... and schema 1" [ "$(q 'PRAGMA user_version')" = 1 ]
	rm -f calls
	em status --json st.json
	assert_rc 0
	check "status: the scores the old evalmake had" [ "$(scores st.json)" = "$(scores old-status.json)" ]
	check "the current schema (3) now" [ "$(q 'PRAGMA user_version')" = 3 ]
	em --json r.json
	assert_rc 0
	assert_calls 0
	assert_json r.json '.cached' 16
	check "the history file imported (3 old rows, 3 new)" [ "$(q 'SELECT count(*) FROM history')" = 6 ]
	check "... and removed" test ! -e cache/history
	checks "its lines kept as they were" "[ \"\$(q 'SELECT json_extract(line, \"\$.command\") FROM history WHERE seq = 1')\" = evalmake ]"
	check "the run: the same scores" [ "$(scores r.json)" = "$(scores old-status.json)" ]
	k=$(jq -r "$(cellsel model m2 1) | .key)" r.json)
	em log 'model/m2#1'
	checks "log reads a packed file" "grep -qx two '$T/out'"
	em log 'calc/t1#1'
	checks "log reads a folder, with its artifacts" "grep -q 'artifacts' '$T/out'"
	# a new cell next to them is a row
	printf '{"id": "m3", "input": "REPLY: three", "expected": "three"}\n' >>model.jsonl
	em --json r.json
	assert_rc 0
	assert_json r.json '.ran' 2
	check "the new ones are rows" [ "$(q 'SELECT count(*) FROM entries')" = 2 ]
fi

try "a cache of schema 2 (the evalmake before no-op records) keeps every result and is replayed after one run"
src=$(cd "$HERE/../.." && pwd)
if ! git -C "$src" cat-file -e 29a4a96^{commit} 2>/dev/null; then
	echo "# skipped: commit 29a4a96 is not in $src" >&2
else
	mkdir -p "$TOP/old2"
	[ -x "$TOP/old2/evalmake" ] ||
		{ git -C "$src" archive 29a4a96 | tar -x -C "$TOP/old2" && make -s -C "$TOP/old2" evalmake >"$TOP/old2.log" 2>&1; } ||
		fail "cannot build the schema-2 evalmake: $(tail -5 "$TOP/old2.log")"
	mkmixed
	(E=$TOP/old2/evalmake; em --json old.json)
	"$TOP/old2/evalmake" status --json old-status.json >/dev/null 2>&1
	check "the old evalmake made schema 2" [ "$(q 'PRAGMA user_version')" = 2 ]
	nh=$(q 'SELECT count(*) FROM history')
	rm -f calls
	sleep 1.1
	em --json r.json
	assert_rc 0
	assert_calls 0
	assert_json r.json '.cached' 16
	check "the current schema (3) now" [ "$(q 'PRAGMA user_version')" = 3 ]
	check "the same scores" [ "$(scores r.json)" = "$(scores old-status.json)" ]
	check "the history kept" [ "$(q 'SELECT count(*) FROM history')" = $((nh + 3)) ]
	EVALMAKE_NOOP_DEBUG=1 em
	assert_rc 0
	check "a no-op record kept ($(q 'SELECT count(*), results, day FROM noops; SELECT v FROM meta'))" [ "$(q 'SELECT count(*) FROM noops')" = 1 ]
	check "the old evalmake refuses the new schema, saying why" sh -c "! '$TOP/old2/evalmake' -s 2>'$T/olderr' && grep -q 'newer than this evalmake' '$T/olderr'"
fi

finish
summary
