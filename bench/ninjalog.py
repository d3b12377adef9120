"""Make or check the built state of bench/noop.sh's ninja baseline.

  python3 ninjalog.py write DIR   copy tasks/X.json to out/X.txt for every
                                  `build out/X.txt: cp tasks/X.json` line of
                                  DIR/build.ninja, in this one process, and
                                  write DIR/.ninja_log as ninja 1.11 writes it
                                  after running those N commands
  python3 ninjalog.py check DIR   every entry of the .ninja_log ninja wrote
                                  has the hash `write` would give it

`write` lets the benchmark reach ninja's fully built state at large N without
spawning N processes; `check`, run wherever ninja did build for real, shows
that state is the one ninja itself produces. A log v5 line is
"start_ms TAB end_ms TAB output_mtime_ns TAB output TAB hash(command) in hex",
the hash being MurmurHash64A with ninja's seed.
"""
import os
import re
import shutil
import sys

MASK = (1 << 64) - 1
SEED = 0xDECAFBADDECAFBAD


def murmur64a(data, seed=SEED):
    m, r = 0xC6A4A7935BD1E995, 47
    h = (seed ^ (len(data) * m)) & MASK
    full = len(data) // 8 * 8
    for i in range(0, full, 8):
        k = (int.from_bytes(data[i:i + 8], "little") * m) & MASK
        k = ((k ^ (k >> r)) * m) & MASK
        h = ((h ^ k) * m) & MASK
    if len(data) > full:
        h = ((h ^ int.from_bytes(data[full:], "little")) * m) & MASK
    h = ((h ^ (h >> r)) * m) & MASK
    return h ^ (h >> r)


def edges(d):
    """(output, input) of every edge of DIR/build.ninja"""
    pat = re.compile(r"^build (\S+): cp (\S+)$")
    with open(os.path.join(d, "build.ninja")) as f:
        return [m.groups() for m in map(pat.match, f) if m]


def command_hash(out, inp):
    return "%x" % murmur64a(("cp %s %s" % (inp, out)).encode())


def write(d):
    os.makedirs(os.path.join(d, "out"), exist_ok=True)
    lines = ["# ninja log v5\n"]
    for out, inp in edges(d):
        dst = os.path.join(d, out)
        shutil.copyfile(os.path.join(d, inp), dst)
        mtime = os.stat(dst).st_mtime_ns
        lines.append("0\t1\t%d\t%s\t%s\n" % (mtime, out, command_hash(out, inp)))
    with open(os.path.join(d, ".ninja_log"), "w") as f:
        f.writelines(lines)


def check(d):
    want = {out: command_hash(out, inp) for out, inp in edges(d)}
    seen = set()
    with open(os.path.join(d, ".ninja_log")) as f:
        header = f.readline()
        if header != "# ninja log v5\n":
            sys.exit("ninjalog: unknown log format %r" % header)
        for line in f:
            out, h = line.rstrip("\n").split("\t")[3:5]
            if want.get(out) != h:
                sys.exit("ninjalog: hash of %s is %s in ninja's log, %s here" % (out, h, want.get(out)))
            seen.add(out)
    if seen != set(want):
        sys.exit("ninjalog: ninja's log has %d outputs, build.ninja %d" % (len(seen), len(want)))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else check)(sys.argv[2])
