#!/usr/bin/env bash
# End-to-end tests of the cache: gc that cannot lose work by surprise,
# entries deleted whole, damaged entries run again, one process per run
# key, and the true reason when the disk is full or read-only.
#
#   EVALMAKE=/abs/path/to/evalmake bash tests/e2e/store.sh
#
# Cases build the standard project (lib.sh: mkproject); its agent logs each
# call to ./calls, so a case counts agent calls exactly. The read-only and
# disk-full cases mount a tmpfs (root only; skipped, and counted as passed,
# where mounting is not allowed).
# Needs: bash, coreutils, jq, pgrep, timeout, md5sum.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# every file and folder of the cache with its size and checksum
cachesum() {
	(cd cache && find . -printf '%p %y %s %m\n' | sort && find . -type f -exec md5sum {} + | sort)
}

MOUNTS=()
cleanmounts() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	MOUNTS=()
}
trap 'cleanmounts; cleanup' EXIT

# ---------------------------------------------------------------------------
# gc

try "gc -n and gc --dry-run change nothing on disk, and say what would go"
mkproject
em
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
before=$(cachesum)
em gc -n --all
assert_rc 0
check "lists 6 entries" [ "$(grep -c '^runs/' "$T/out")" = 6 ]
checks "says 6 entries would go, with their bytes" "grep -qE '^would remove 6 cache entries, [1-9][0-9]* bytes' '$T/out'"
em gc --dry-run
assert_rc 0
checks "by default, nothing recent would go" "grep -q '^would remove 0 cache entries' '$T/out'"
em gc -n --keep 0
assert_rc 0
checks "--keep 0: 6 would go" "grep -q '^would remove 6 cache entries' '$T/out'"
after=$(cachesum)
[ "$before" = "$after" ] || fail "the cache changed: $(diff <(echo "$before") <(echo "$after") | head -n 5 | tr '\n' ';')"
check "18 run entries" [ "$(nruns)" = 18 ]

try "gc keeps another branch's recent results; --keep 0 and --all free them"
mkproject
em
cp prompts/calc.md calc.orig
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
em gc
assert_rc 0
checks "reports 0 removed" "grep -q '^removed 0 cache entries, 0 bytes' '$T/out'"
check "18 run entries kept (got $(nruns))" [ "$(nruns)" = 18 ]
cp calc.orig prompts/calc.md # back on the first branch
rm -f calls
em
assert_rc 0
assert_calls 0
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em gc --keep 0
assert_rc 0
checks "reports 6 removed and the bytes freed" "grep -qE '^removed 6 cache entries, [1-9][0-9]* bytes' '$T/out'"
check "12 run entries (got $(nruns))" [ "$(nruns)" = 12 ]
cp calc.orig prompts/calc.md
rm -f calls
em
assert_calls 6
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em gc --all
check "--all: 12 run entries (got $(nruns))" [ "$(nruns)" = 12 ]
rm -f calls
em
assert_rc 0
assert_calls 0

try "gc: an entry used by a run today counts as used, however old its file"
mkproject
em
cp prompts/calc.md calc.orig
old=$(sqlite3 cache/index.db "SELECT run FROM cells WHERE id LIKE 'calc/%'") # without looking them up
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
# the first branch's entries look 40 days old...
for k in $old; do [ ! -e "cache/runs/${k:0:2}/$k" ] || touch -d '40 days ago' "cache/runs/${k:0:2}/$k"; done
sqlite3 cache/index.db 'UPDATE runs SET used = used - 40' # (its rows say today)
em gc -n
checks "40-day-old entries would go" "grep -q '^would remove 6 cache entries' '$T/out'"
# ...until a run finds them (then their use is recorded)
cp calc.orig prompts/calc.md
rm -f calls
em
assert_calls 0
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em gc
check "the entries used today are kept (got $(nruns))" [ "$(nruns)" = 18 ]

try "a lock file's entries are kept even by gc --all"
mkproject
em
em lock
assert_rc 0
cp Evalfile.lock other-branch.lock
rm Evalfile.lock
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
em gc --all
assert_rc 0
check "18 run entries (got $(nruns))" [ "$(nruns)" = 18 ]
rm other-branch.lock
em gc --all
check "without the lock, 12 (got $(nruns))" [ "$(nruns)" = 12 ]

try "gc sweeps what killed writers left, not what live ones are writing"
mkproject
em
dead=$(sh -c 'echo $$')
mkdir -p cache/grades/ab cache/tmp/$dead.7 cache/tmp/$$.8
echo x >cache/grades/ab/abababababababababababababababab.tmp.$dead.0
echo x >cache/grades/ab/abababababababababababababababab.tmp.$$.1
mkdir cache/errors/0123.old.$dead cache/errors/0124.old.$$
em gc
assert_rc 0
check "a dead writer's grade temp is gone" [ ! -e cache/grades/ab/abababababababababababababababab.tmp.$dead.0 ]
check "a live writer's grade temp stays" [ -e cache/grades/ab/abababababababababababababababab.tmp.$$.1 ]
check "a dead process's old error is gone" [ ! -e cache/errors/0123.old.$dead ]
check "a live process's old error stays" [ -e cache/errors/0124.old.$$ ]
check "a dead process's tmp entry is gone" [ ! -e cache/tmp/$dead.7 ]
check "a live process's tmp entry stays" [ -e cache/tmp/$$.8 ]

try "40 kills of gc at varied moments leave no entry that breaks a later run"
mkproject
# calc entries with many files, so that deleting one takes a while
cat >many.sh <<'EOF'
#!/bin/sh
i=0
while [ $i -lt 40 ]; do : >"$EVAL_OUT_DIR/artifact$i"; i=$((i + 1)); done
exec ./agent.sh
EOF
chmod +x many.sh
set_calc_agent many.sh
sed -i 's/^  iterations: 2/  iterations: 8/; s/^jobs: 4/jobs: 8/' Evalfile
cp prompts/calc.md calc.a
printf 'Say it.\nQ: {{input}}\n' >calc.b
cp calc.b prompts/calc.md
em
cp calc.a prompts/calc.md
em # the current results; calc.b's 24 are unreferenced
assert_rc 0
cp -a cache base
# how long a whole gc takes here, to kill it at moments spread over it
start=$EPOCHREALTIME
em gc --all
took=$(elapsed "$start")
check "gc removed calc.b's 24 entries" grep -q '^removed 24 ' "$T/out"
bad=0
for i in $(seq 1 40); do
	rm -rf cache
	cp -a base cache
	cp calc.a prompts/calc.md
	bg_em gc --all
	sleep "$(awk -v t="$took" -v i="$i" 'BEGIN { printf "%.4f", t * i / 40 }')"
	{
		kill -9 "$bgpid"
		bg_wait 10
	} 2>/dev/null
	cp calc.b prompts/calc.md # the branch whose entries gc was deleting
	em
	if [ "$rc" != 0 ] || grep -q 'cannot' "$T/err"; then
		bad=$((bad + 1))
		fail "run after kill #$i: exit $rc"
	fi
	entries_whole || fail "after kill #$i: an entry is not whole"
done
check "no run failed after a kill ($bad did)" [ "$bad" = 0 ]

try "a damaged entry counts as missing: the cell runs again and replaces it"
mkproject
em
k=$("$E" explain 'calc/t1#1' | sed -n 's/^  run key *//p')
# a row cut short (the small entries are rows of index.db)
sqlite3 cache/index.db "UPDATE entries SET zstd = 0, body = CAST('evalmake-entry 1' || char(10) || 'meta.json 2' || char(10) || '{}' AS BLOB) WHERE key = '$k'"
rm -f calls
sqlite3 cache/index.db 'DELETE FROM grades' # a grader change: the stored output is read again
em
assert_rc 0
check "no 'cannot'" ! grep -q cannot "$T/err"
assert_calls_are "calc t1 1"
check "the entry is whole again" entries_whole
k2=$("$E" explain 'calc/t2#1' | sed -n 's/^  run key *//p')
sqlite3 cache/index.db "UPDATE entries SET zstd = 0, body = CAST('evalmake-entry 1' || char(10) || 'output 2' || char(10) || 'x' || char(10) AS BLOB) WHERE key = '$k2'"
rm -f calls
sqlite3 cache/index.db 'DELETE FROM runs' # no run rows: the entries are indexed again
em
assert_rc 0
assert_calls_are "calc t2 1"
check "the entry is whole again" entries_whole
rm -f calls
em
assert_calls 0

# ---------------------------------------------------------------------------
# one process per run key

SLOW=$(sleeper store)

slowproject() {
	mkproject
	printf '#!/bin/sh\n"%s" 0.3\nexec ./agent.sh\n' "$SLOW" >slow.sh
	chmod +x slow.sh
	sed -i 's#command: ./agent.sh#command: ./slow.sh#' Evalfile
}

try "two runs started together make exactly one call per cell between them"
slowproject
bg_em --json r1.json
p1=$bgpid
bg_em --json r2.json
p2=$bgpid
bgpid=$p1 bg_wait 60
rc1=$rc
bgpid=$p2 bg_wait 60
check "first exits 0 (got $rc1)" [ "$rc1" = 0 ]
check "second exits 0 (got $rc)" [ "$rc" = 0 ]
assert_calls 12
checks "ran adds up to 12" '[ "$(($(jq .ran r1.json) + $(jq .ran r2.json)))" = 12 ]'
checks "what one ran the other counts as cached" '[ "$(jq .cached r1.json)" = "$(jq .ran r2.json)" ]'
assert_json r1.json '.errors' 0
assert_json r2.json '.errors' 0
check "every run entry is whole" entries_whole

try "kill -9 of one of two runs: the other finishes every cell"
slowproject
sed -i "s#0.3#1#" slow.sh
bg_em -j 8 --json r1.json
p1=$bgpid
check "the first started its cells" waitfor 10 '[ "$(ncalls)" -ge 8 ]'
bg_em -j 8 --json r2.json
p2=$bgpid
sleep 0.3 # the second is waiting for the first's keys now
{
	kill -9 "$p1"
	bgpid=$p1 bg_wait 10
} 2>/dev/null
bgpid=$p2 bg_wait 60
assert_rc 0
assert_json r2.json '.errors' 0
assert_json r2.json '[.suites[].tasks[].cells[] | select(.status == "pending")] | length' 0
killmarked "$SLOW"
rm -f calls
em --json r.json
assert_rc 0
assert_calls 0
assert_json r.json '.cached' 12

try "the same run key in two cells of one process: one call, no deadlock"
mkproject
cat >>Evalfile <<'EOF'
  twin:
    tasks: tasks/calc/*
    prompt: prompts/calc.md
    agent: {command: ./agent.sh, deps: [agent.sh, data/calc.txt]}
EOF
em --json r.json
assert_rc 0
check "calc and twin share keys: 18 cells, 12 calls (got $(ncalls))" [ "$(ncalls)" = 12 ]
assert_json r.json '[.suites[].cells_total] | add' 18
assert_json r.json '.errors' 0
assert_json r.json '.ran + .cached' 18

# ---------------------------------------------------------------------------
# read-only and full disks: the true reason

try "gc on a read-only cache fails clearly and removes nothing"
mkproject
em
printf 'Say it.\nQ: {{input}}\n' >prompts/calc.md
em
if mount --bind cache cache 2>/dev/null && MOUNTS+=("$P/cache") && mount -o remount,ro,bind cache 2>/dev/null; then
	em gc --all
	check "non-zero exit (got $rc)" [ "$rc" != 0 ]
	checks "says read-only" "grep -q 'Read-only file system' '$T/err'"
	checks "says nothing was removed" "grep -q 'nothing removed' '$T/err'"
	check "18 run entries" [ "$(nruns)" = 18 ]
	em gc -n --all
	assert_rc 0
	rm -f calls
	em
	assert_rc 0
	assert_calls 0
else
	echo "# skipped: cannot mount here" >&2
fi
cleanmounts

try "a full disk says so"
mkproject
mkdir small
if mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
	MOUNTS+=("$P/small")
	head -c 61440 /dev/zero >small/fill # one page left
	sed -i 's#^cache: cache#cache: small/cache#' Evalfile
	em -k
	check "non-zero exit (got $rc)" [ "$rc" != 0 ]
	checks "names the reason" "grep -q 'No space left on device' '$T/err'"
	check "no 'No such file'" ! grep -q 'No such file' "$T/err"
else
	echo "# skipped: cannot mount here" >&2
fi
cleanmounts

finish # count the last case too
summary
