#!/usr/bin/env bash
# End-to-end tests of the cache index as a database (CACHE/index.db): an
# old text-format cache is converted with every result kept, a no-op run
# writes nothing, kill -9 leaves a database that checks out, and a damaged
# index is set aside with a message and rebuilt from the entries.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/sqlite.sh
#
# tests/fixtures/oldcache.tar.gz is the standard project (lib.sh:
# mkproject) with a cache made by evalmake before the database (log,
# cells, state, history; three runs, 18 run entries), and old-status.json,
# what that evalmake's `status --json` said of it.
# Needs: bash, coreutils, jq, sqlite3, tar.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
FIXTURE=$HERE/../fixtures/oldcache.tar.gz
if ! command -v sqlite3 >/dev/null; then
	echo "sqlite.sh: needs sqlite3" >&2
	exit 2
fi

q() { sqlite3 cache/index.db "$1"; }
scores() { jq -c '[.suites[] | {name, score, tasks: [.tasks[] | {id, cells: [.cells[] | {iteration, score, key}]}]}]' "$1"; }

try "an old-format cache is converted on first use and loses no result"
tar -xzf "$FIXTURE"
check "the fixture is of the old format" test -f cache/log -a -f cache/cells -a -f cache/state -a ! -e cache/index.db
ngrades=$(awk -F'\t' '$1 == "G" { print $2 }' cache/log | sort -u | wc -l)
em status --json st.json
assert_rc 0
check "status: the scores the old evalmake had" [ "$(scores st.json)" = "$(scores old-status.json)" ]
check "the old index files are gone" test ! -e cache/log -a ! -e cache/cells -a ! -e cache/state
check "18 runs indexed (got $(q 'SELECT count(*) FROM runs'))" [ "$(q 'SELECT count(*) FROM runs')" = 18 ]
check "every grade of the log indexed ($ngrades)" [ "$(q 'SELECT count(*) FROM grades')" = "$ngrades" ]
check "12 cells (got $(q 'SELECT count(*) FROM cells'))" [ "$(q 'SELECT count(*) FROM cells')" = 12 ]
check "the memos came too (9 in the old state)" [ "$(q 'SELECT count(*) FROM memos')" -ge 9 ]
check "schema version 3" [ "$(q 'PRAGMA user_version')" = 3 ]
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.cached' 12
check "the run: the same scores" [ "$(scores r.json)" = "$(scores old-status.json)" ]
checks "history kept (6 old lines, 2 new)" '[ "$(q "SELECT count(*) FROM history")" = 8 ]'
check "the history file was imported, then removed" test ! -e cache/history
em explain 'calc/t1#1'
assert_rc 0
checks "explain: up to date" "grep -qi 'up to date' '$T/out'"
# the older prompt's results came along too: going back runs nothing
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
assert_rc 0
assert_calls 0

try "a no-op run writes nothing to the index; one changed cell writes its rows"
mkproject
em
rm -f calls
q 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
# every table but the history, which gets a row per suite per run
tables() { for t in runs grades cells files memos entries; do q "SELECT * FROM $t"; done | md5sum; }
before=$(tables)
hist=$(q 'SELECT count(*) FROM history')
em
assert_rc 0
assert_calls 0
check "index.db unchanged by a no-op run" [ "$(tables)" = "$before" ]
check "but for its history rows (2)" [ "$(q 'SELECT count(*) FROM history')" = $((hist + 2)) ]
printf 'nine\n' >tasks/calc/t1/input.txt
printf 'nine\n' >tasks/calc/t1/expected.txt
em --json r.json
assert_rc 0
assert_json r.json '.ran' 2
check "two more runs rows (got $(q 'SELECT count(*) FROM runs'))" [ "$(q 'SELECT count(*) FROM runs')" = 14 ]
check "still 12 cells" [ "$(q 'SELECT count(*) FROM cells')" = 12 ]
check "calc/t1 points at the new run" [ "$(q "SELECT count(*) FROM cells c JOIN runs r ON r.key = c.run WHERE c.id LIKE 'calc/t1#%'")" = 2 ]

SLOW=$(sleeper sqlite)

try "kill -9 at varied moments leaves a database that checks out, and no partial entry"
mkproject 5
printf '#!/bin/sh\n"%s" 0.05\nexec ./agent.sh\n' "$SLOW" >slow.sh
chmod +x slow.sh
sed -i 's#command: ./agent.sh#command: ./slow.sh#' Evalfile
for i in 1 2 3 4 5 6 7 8; do
	printf 'v%s\nQ: {{input}}\n' "$i" >prompts/quiz.md
	printf 'v%s\nQ: {{input}}\n' "$i" >prompts/calc.md
	bg_em -j 4
	sleep "0.$((i * 7 % 10))"
	kill -9 "$bgpid" 2>/dev/null
	wait "$bgpid" 2>/dev/null
	killmarked "sqlite-sleep-$MARK"
	ok=$(q 'PRAGMA integrity_check' 2>&1)
	[ "$ok" = ok ] || fail "after kill $i: integrity_check says $ok"
done
check "every entry whole" entries_whole
rm -f calls
em --json r.json
assert_rc 0
assert_json r.json '.errors' 0
check "every entry whole after a full run" entries_whole
rm -f calls
em
assert_rc 0
assert_calls 0

# entries with artifacts are folders, found again on disk; the small ones
# are rows of index.db and go with it (tests/e2e/store2.sh)
with_artifacts() {
	sed -i '2a echo kept >"$EVAL_OUT_DIR/note"' agent.sh
}

try "a damaged index is set aside with a message; the results are found again on disk"
mkproject
with_artifacts
em
rm -f calls
printf 'this is not a database, it is a damaged file\n%.0s' 1 2 3 4 5 6 7 8 9 10 >cache/index.db
rm -f cache/index.db-wal cache/index.db-shm
em --json r.json
assert_rc 0
assert_calls 0
checks "says it is damaged and where it was kept" "grep -q 'index.db is damaged.*kept as' '$T/err'"
assert_json r.json '.cached' 12
check "a new index" [ "$(q 'PRAGMA user_version')" = 3 ]
em
assert_rc 0
check "no message the second time" [ ! -s "$T/err" ]

try "a database damaged inside says how to recover and does not crash"
mkproject
with_artifacts
em
rm -f calls
# damage the pages after the first (the header stays valid)
size=$(stat -c %s cache/index.db)
if [ "$size" -gt 8192 ]; then
	dd if=/dev/urandom of=cache/index.db bs=4096 seek=1 count=$((size / 4096 - 1)) conv=notrunc 2>/dev/null
	em
	check "no crash (got $rc)" [ "$rc" -lt 128 ]
	if [ "$rc" != 0 ]; then
		checks "names the file and the way out" "grep -q 'index.db.*damaged.*mv ' '$T/err'"
		mv cache/index.db cache/index.db.bad
		rm -f cache/index.db-wal cache/index.db-shm
	fi
	rm -f calls
	em
	assert_rc 0
	assert_calls 0
else
	echo "# skipped: index too small to damage inside ($size bytes)" >&2
fi

finish
summary
