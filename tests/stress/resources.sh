#!/usr/bin/env bash
# Resources: a long watch session stays flat; a full or read-only cache gives
# a clear error and leaves nothing corrupt.
#
#   EVALMAKE=/abs/evalmake bash tests/stress/resources.sh
#   RES_SAVES=600 ...   (make stress: a save a second for 10 minutes)
#
# - watch: RES_SAVES saves (default 20), each waited for (its --jsonl line);
#   VmRSS (/proc/PID/status) and the open descriptors (/proc/PID/fd) after a
#   warm-up of 5 saves and at the end: growth under a generous bound.
# - a cache on a small tmpfs that fills up, and one remounted read-only:
#   the run fails with a message naming the cause; after the disk is
#   writable again, a run succeeds and every cell scores 1 (nothing stored
#   half-written is taken for a result). Mounting needs root (or a user
#   namespace): without it these cases are skipped loudly.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"

SAVES=${RES_SAVES:-20}
PERIOD=${RES_PERIOD:-1} # seconds between saves, at least

MNT=""
unmount() {
	[ -n "$MNT" ] || return 0
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	MNT=""
}
trap 'unmount; cleanup' EXIT

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# N tasks whose agent prints its input (bytes: $2 of padding)
mkresproject() {
	local i
	for ((i = 1; i <= $1; i++)); do
		mkdir -p "tasks/t$i"
		{ echo "t$i"; head -c "${2:-0}" /dev/zero | tr '\0' 'p'; echo; } >"tasks/t$i/input.txt"
		cp "tasks/t$i/input.txt" "tasks/t$i/expected.txt"
	done
	cat >Evalfile <<EOF
${3:+cache: $3}
defaults: {iterations: 1}
suites:
  s:
    tasks: tasks/*
    agent: {command: cat}
    grader: {type: exact}
EOF
}

try "watch: $SAVES saves keep RSS and open descriptors flat"
mkresproject 4
bg_em watch --jsonl
check "watch started" waitfor 30 "[ -s '$T/bg$nbg.out' ]"
warm_rss="" warm_fd=""
for ((n = 1; n <= SAVES; n++)); do
	lines=$(wc -l <"$T/bg$nbg.out")
	t=$((n % 4 + 1))
	printf 't%d save %d\n' "$t" "$n" >"tasks/t$t/input.txt"
	cp "tasks/t$t/input.txt" "tasks/t$t/expected.txt"
	if ! waitfor 30 "[ \$(wc -l <'$T/bg$nbg.out') -gt $lines ]"; then
		fail "save $n: no update within 30 s"
		break
	fi
	[ "$n" = 5 ] && warm_rss=$(rss "$bgpid") warm_fd=$(nfds "$bgpid")
	sleep "$PERIOD"
done
end_rss=$(rss "$bgpid") end_fd=$(nfds "$bgpid")
echo "# watch: RSS ${warm_rss:-?} kB after 5 saves, ${end_rss:-?} kB after $SAVES; descriptors ${warm_fd:-?} -> ${end_fd:-?}" >&2
check "a save's update scores 1" [ "$(tail -1 "$T/bg$nbg.out" | jq .suites[0].score)" = 1 ]
if [ -n "$warm_rss" ] && [ -n "$end_rss" ]; then
	# generous: 16 MB plus half again (allocator and sanitizer slack)
	check "RSS flat: $warm_rss kB -> $end_rss kB" [ "$end_rss" -le $((warm_rss * 3 / 2 + 16384)) ]
	check "descriptors flat: $warm_fd -> $end_fd" [ "$end_fd" -le $((warm_fd + 2)) ]
else
	fail "watch ended early: $(cat "$T/bg$nbg.err")"
fi
kill -TERM "$bgpid"
bg_wait 10

# mount a tmpfs of $1 kB at $T/mnt (MNT); 1 when not allowed
mounttmpfs() {
	mkdir -p "$T/mnt"
	mount -t tmpfs -o "size=${1}k" tmpfs "$T/mnt" 2>/dev/null || return 1
	MNT=$T/mnt
}

try "a cache on a full disk: one clear error, nothing corrupt"
if ! mounttmpfs 256; then
	echo "resources.sh: SKIPPING the full-disk case: cannot mount a tmpfs here (needs root)" >&2
else
	mkresproject 20 40000 "$T/mnt/cache"
	em # without -k: it stops at the first error (cells in flight may add theirs)
	check "the run fails (rc $rc)" [ "$rc" = 1 ] || [ "$rc" = 2 ]
	checks "the error names the cell and the cause: $(head -c 400 "$T/err")" 'grep -q "s/t[0-9]*#1: .*No space left on device" "$T/err"'
	checks "one error, not a flood: $(wc -l <"$T/err") lines" '[ "$(wc -l <"$T/err")" -le 4 ]'
	mount -o remount,size=8m "$T/mnt"
	em -s --json r.json
	assert_rc 0
	check "every cell scores 1 after the disk has room" [ "$(jq '[.suites[].tasks[].cells[] | select(.score == 1)] | length' r.json)" = 20 ]
	unmount
fi

try "a read-only cache: one clear error, nothing corrupt"
if ! mounttmpfs 8192; then
	echo "resources.sh: SKIPPING the read-only case: cannot mount a tmpfs here (needs root)" >&2
else
	mkresproject 6 100 "$T/mnt/cache"
	em -s
	assert_rc 0
	for i in 1 2 3; do
		echo "changed $i" >"tasks/t$i/input.txt"
		cp "tasks/t$i/input.txt" "tasks/t$i/expected.txt"
	done
	mount -o remount,ro "$T/mnt"
	em
	check "the run fails (rc $rc)" [ "$rc" = 1 ] || [ "$rc" = 2 ]
	checks "the error names the cause: $(head -c 400 "$T/err")" 'grep -q "Read-only file system" "$T/err"'
	checks "one error, not a flood: $(wc -l <"$T/err") lines" '[ "$(wc -l <"$T/err")" -le 4 ]'
	mount -o remount,rw "$T/mnt"
	em -s --json r.json
	assert_rc 0
	check "every cell scores 1 once writable" [ "$(jq '[.suites[].tasks[].cells[] | select(.score == 1)] | length' r.json)" = 6 ]
	check "only the changed cells ran" [ "$(jq .ran r.json)" = 3 ]
	unmount
fi

finish
summary
