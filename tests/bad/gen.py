#!/usr/bin/env python3
"""gen.py: the bad-input catalogue's generator.

    python3 tests/bad/gen.py SEED OUTDIR [EVERY]

EVERY (default 1) writes only every EVERY-th case (the same numbers as in
a full run: every case is still generated, so the subset does not depend
on EVERY's choice of what to skip).

Writes one small project per malformed input under OUTDIR/NNNN-kind/, each
with a file `case` of shell assignments the runner (run.sh) reads:

    expect=2|1|0   2: bad input (nothing runs); 1: a failed cell; 0: the
                   control case, the valid project all others break
    file=PATH      the file the message must name
    line=N|any|    N: the message says PATH:N; any: PATH:<some line>;
                   empty: the file alone (an empty file has no line)
    http=1         a model cell against the misbehaving server: the
                   message must name the server (127.0.0.1:PORT) and cell
    cell=S/T#K     that cell
    why=TEXT       what is wrong, for the report

A project's Evalfile may hold @PORT@, the model server's port, filled in by
the runner. The same SEED gives the same files, byte for byte: every random
choice comes from one random.Random(SEED), and cases are made in a fixed
order. Every case is malformed by construction (a value of the wrong type,
a cut in the middle of a flow mapping, ...), never by luck.
"""
import gzip
import json
import os
import random
import sys

try:
    import zstandard  # not in Debian's python3: use the zstd tool instead
except ImportError:
    zstandard = None
import subprocess

seed = int(sys.argv[1])
out = sys.argv[2]
every = int(sys.argv[3]) if len(sys.argv) > 3 else 1  # write every Nth case only
R = random.Random(seed)
n = 0

AGENT = "#!/bin/sh\n# the catalogue's agent: answers 'ok'\ncat >/dev/null\necho ok\n"

# the valid project every case breaks one piece of; line numbers matter
EVALFILE = """\
cache: cache
jobs: 2
defaults:
  iterations: 1
  timeout: 30
suites:
  calc:
    tasks: tasks/calc/*
    prompt: prompt.md
    iterations: 1
    timeout: 30
    threshold: 0.5
    agent:
      command: ./agent.sh
      deps: [agent.sh]
      env: {MODE: plain}
      env_inputs: [MODE]
    grader:
      type: exact
      trim: true
      ignore_case: false
  quiz:
    tasks: tasks/q.jsonl
    fields: {id: id, input: input, expected: expected}
    expected_pattern: "(.*)"
    agent:
      provider: openai
      model: gpt-test
      base_url: http://127.0.0.1:@PORT@/v1
      api_key_env: BADKEY
      max_connections: 2
      retries: 0
      params: {temperature: 0}
    grader:
      type: exact
      output_pattern: "(.*)"
  re:
    tasks: tasks/calc/*
    agent: {command: ./agent.sh}
    grader:
      type: regex
      pattern: "^o"
"""
EVALFILE_LINES = EVALFILE.splitlines()


def lineof(prefix, after=0):
    """1-based line of the first line (after line `after`) that starts with prefix"""
    for i, l in enumerate(EVALFILE_LINES):
        if i + 1 > after and l.startswith(prefix):
            return i + 1
    raise KeyError(prefix)


def base_files():
    return {
        "tasks/calc/t1/input.txt": b"one\n",
        "tasks/calc/t1/expected.txt": b"ok\n",
        "tasks/calc/t2/input.txt": b"two\n",
        "tasks/calc/t2/expected.txt": b"ok\n",
        "tasks/q.jsonl": b'{"id": "q1", "input": "REPLY: ok", "expected": "ok"}\n{"id": "q2", "input": "REPLY: ok", "expected": "ok"}\n',
        "prompt.md": b"Q: {{input}}\n",
        "agent.sh": AGENT.encode(),
        "Evalfile": EVALFILE.encode(),
    }


def emit(kind, files, expect, file, line, why, http=False, cell=""):
    """write one case: the base project with files replaced (None: removed)"""
    global n
    n += 1
    if (n - 1) % every:
        return
    d = os.path.join(out, "%04d-%s" % (n, kind))
    allf = base_files()
    allf.update(files)
    for p, data in allf.items():
        if data is None:
            continue
        fp = os.path.join(d, p)
        os.makedirs(os.path.dirname(fp), exist_ok=True)
        with open(fp, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        if p.endswith(".sh"):
            os.chmod(fp, 0o755)
    meta = [
        "expect=%d" % expect,
        "file=%s" % file,
        "line=%s" % ("" if line is None else line),
        "http=%d" % (1 if http else 0),
        "cell='%s'" % cell,
        "why='%s'" % why.replace("'", ""),
    ]
    with open(os.path.join(d, "case"), "w") as f:
        f.write("\n".join(meta) + "\n")


def setline(text, lineno, newline):
    ls = text.splitlines()
    ls[lineno - 1] = newline
    return "\n".join(ls) + "\n"


def rbytes(k):
    return bytes(R.getrandbits(8) for _ in range(k))


# ---------------------------------------------------------------------------
# Evalfile: wrong types. key line -> the types it takes; values of other
# types must be refused naming that line.

VALUES = {
    "str": ["hello", '"quoted"'],
    "int": ["7", "-3", "99999999999999999999"],
    "num": ["2.5", "1e400", "-1e400", ".nan", ".inf"],
    "bool": ["true", "no"],
    "null": ["null", "~", '""'],
    "list": ["[a, b]", "[]", "[[1]]", "[{a: 1}]"],
    "map": ["{a: 1}", "{}", "{a: {b: [c]}}"],
    "date": ["2024-01-01"],
}
# key (prefix of its line, searched after a line), the value kinds it takes
TYPED = [
    ("cache:", 0, {"str", "int", "num", "bool", "date"}),
    ("jobs:", 0, set()),
    ("  iterations:", lineof("defaults:"), set()),
    ("  timeout:", lineof("defaults:"), set()),
    ("suites:", 0, {"map"}),
    ("  calc:", 0, {"map"}),
    ("    tasks:", lineof("  calc:"), {"str", "int", "num", "bool", "date", "list"}),
    ("    prompt:", 0, {"str", "int", "num", "bool", "date"}),
    ("    iterations:", lineof("  calc:"), set()),
    ("    timeout:", lineof("  calc:"), set()),
    ("    threshold:", 0, set()),
    ("    agent:", lineof("  calc:"), {"map"}),
    ("      command:", lineof("  calc:"), {"str", "int", "num", "bool", "date"}),
    ("      deps:", lineof("  calc:"), {"str", "int", "num", "bool", "date", "list"}),
    ("      env:", 0, {"map"}),
    ("      env_inputs:", 0, {"list", "str"}),
    ("    grader:", lineof("  calc:"), {"map"}),
    ("      type:", lineof("  calc:"), set()),
    ("      trim:", 0, {"bool"}),
    ("      ignore_case:", 0, {"bool"}),
    ("    fields:", 0, {"map"}),
    ("    expected_pattern:", 0, {"str", "int", "num", "bool", "date"}),
    ("      provider:", 0, set()),
    ("      model:", 0, {"str", "int", "num", "bool", "date"}),
    ("      base_url:", 0, set()),
    ("      api_key_env:", 0, {"str", "bool"}),  # true, no: names of unset variables
    ("      max_connections:", 0, set()),
    ("      retries:", 0, set()),
    ("      params:", 0, {"map"}),
    ("      pattern:", 0, {"str", "int", "num", "bool", "date"}),
    ("      output_pattern:", 0, {"str", "int", "num", "bool", "date"}),
]
# integer keys: their valid values are in range
INTKEYS = {"jobs:", "  iterations:", "  timeout:", "    iterations:", "    timeout:", "      max_connections:",
           "      retries:", "    threshold:"}
# scalars that are refused by value, not by type, for keys taking a string
BADSTR = {
    "      provider:": ["hello", "7", "true"],
    "      type:": ["hello", "7", "true", "2024-01-01"],
    "      base_url:": ["hello", "7", "ftp://x", "http://"],
    "      api_key_env:": ['""'],
    "    expected_pattern:": ['"(unclosed"', '"[z-a]"', '"*"'],
    "      pattern:": ['"(unclosed"', '"a{2,1}"', '"\\\\"'],
    "      output_pattern:": ['"(unclosed"', '"(a"'],
}


def evalfile_types():
    for prefix, after, ok in TYPED:
        ln = lineof(prefix, after)
        key = EVALFILE_LINES[ln - 1].split(":")[0]
        for kind, vals in VALUES.items():
            if kind in ok:
                continue
            if prefix in INTKEYS and kind in ("int", "num"):
                continue  # handled below: by range
            if kind == "null" and prefix in ("cache:", "    prompt:", "      env:", "      env_inputs:",
                                             "    fields:", "      params:", "      deps:"):
                continue  # null is "none" there: valid
            for v in vals:
                text = setline(EVALFILE, ln, "%s: %s" % (key, v))
                # a block mapping's key given a scalar: its children then
                # break the YAML a line or two below
                block = EVALFILE_LINES[ln - 1].endswith(":")
                emit("type", {"Evalfile": text}, 2, "Evalfile", "any" if block else ln,
                     "%s: %s" % (key.strip(), v))
        for v in BADSTR.get(prefix, []):
            text = setline(EVALFILE, ln, "%s: %s" % (key, v))
            emit("value", {"Evalfile": text}, 2, "Evalfile", ln, "%s: %s" % (key.strip(), v))
        if prefix in INTKEYS:
            for v in ["0", "-1", "2.5", "1e400", "99999999999999999999", "-1e400", ".nan"]:
                if prefix == "    threshold:" and v in ("0",):
                    continue
                if prefix in ("  timeout:", "    timeout:") and v == "2.5":
                    continue
                if prefix == "      retries:" and v == "0":
                    continue
                text = setline(EVALFILE, ln, "%s: %s" % (key, v))
                emit("range", {"Evalfile": text}, 2, "Evalfile", ln, "%s: %s" % (key.strip(), v))


# unknown keys, at every level: typos of known keys and random words
LEVELS = [
    ("", 0, ["cahce", "job", "suite", "default", "Suites"]),
    ("  ", lineof("defaults:"), ["iteration", "timout", "gradrs"]),
    ("    ", lineof("  calc:"), ["task", "promt", "agents", "thresold", "shuffle", "field"]),
    ("      ", lineof("    agent:"), ["comand", "dep", "envs", "enviroment", "cmd"]),
    ("      ", lineof("    grader:"), ["typ", "ignorecase", "trimm", "patern", "tolerence"]),
    ("      ", lineof("      provider:"), ["modle", "baseurl", "api_key", "retry", "param"]),
]


def evalfile_unknown():
    for indent, after, words in LEVELS:
        for w in words + ["zz%d" % R.randrange(1000)]:
            ln = after + 1
            ls = EVALFILE_LINES[:]
            ls.insert(ln - 1 + (1 if after else 0), "%s%s: 1" % (indent, w))
            emit("unknown", {"Evalfile": "\n".join(ls) + "\n"}, 2, "Evalfile",
                 ln + (1 if after else 0), "unknown key %s" % w)


def evalfile_yaml():
    # alias bombs: each level an anchor repeating the previous one `fan` times
    for depth in (3, 5, 8, 10, 12):
        for fan in (2, 5, 10):
            if fan ** depth < 1000:
                continue
            ls = ["x0: &a0 [lol, lol]"]
            for d in range(1, depth + 1):
                ls.append("x%d: &a%d [%s]" % (d, d, ", ".join(["*a%d" % (d - 1)] * fan)))
            ls += EVALFILE_LINES
            emit("aliasbomb", {"Evalfile": "\n".join(ls) + "\n"}, 2, "Evalfile", "any",
                 "alias bomb %d^%d" % (fan, depth))
    # an alias bomb inside a suite's env
    for fan in (10, 30):
        ls = EVALFILE_LINES[:]
        ln = lineof("      env:")
        bomb = ["x%d: &b%d [%s]" % (d, d, ", ".join(["*b%d" % (d - 1)] * fan)) for d in range(1, 7)]
        ls[ln - 1] = "      env: {A: *b6}"
        ls = ["x0: &b0 [a]"] + bomb + ls
        emit("aliasbomb", {"Evalfile": "\n".join(ls) + "\n"}, 2, "Evalfile", "any", "alias bomb in env")
    # an anchor holding an alias of itself (merge key)
    emit("aliasloop", {"Evalfile": "a: &a\n  <<: *a\n" + EVALFILE}, 2, "Evalfile", "any", "self alias")
    emit("aliasundef", {"Evalfile": EVALFILE.replace("jobs: 2", "jobs: *nowhere")}, 2, "Evalfile", 2,
         "undefined alias")
    # deep nesting, flow and block, at the top and inside a value
    for depth in (65, 100, 1000, 10000, 100000):
        emit("deep", {"Evalfile": "x: " + "[" * depth + "]" * depth + "\n" + EVALFILE}, 2, "Evalfile", "any",
             "%d nested lists" % depth)
        emit("deep", {"Evalfile": "x: " + "{a: " * depth + "1" + "}" * depth + "\n" + EVALFILE}, 2, "Evalfile",
             "any", "%d nested maps" % depth)
        emit("deep", {"Evalfile": setline(EVALFILE, lineof("      env:"),
                                          "      env: {A: " + "[" * depth + "]" * depth + "}")},
             2, "Evalfile", "any", "%d nested lists in env" % depth)
        emit("deepcut", {"Evalfile": "x: " + "[" * depth + "\n"}, 2, "Evalfile", "any",
             "%d unclosed lists" % depth)
    for depth in (70, 500):
        text = "".join("%sk%d:\n" % ("  " * i, i) for i in range(depth)) + "  " * depth + "v: 1\n"
        emit("deep", {"Evalfile": text + EVALFILE}, 2, "Evalfile", "any", "%d nested block maps" % depth)
    # empty and almost empty
    for text, why in [(b"", "empty"), (b"\n\n\n", "blank lines"), (b"   \t\n", "whitespace"),
                      (b"# just a comment\n", "a comment"), (b"---\n", "a document marker"),
                      (b"---\n...\n", "an empty document"), (b"\xef\xbb\xbf", "a BOM"), (b"~\n", "null"),
                      (b"[]\n", "a list"), (b"42\n", "a number"), (b"suites:\n", "no suites"),
                      (b"suites: {}\n", "empty suites"), (b"suites: []\n", "suites a list"),
                      (b'"just a string"\n', "a string"), (EVALFILE.encode() + b"---\n" + EVALFILE.encode(),
                                                           "two documents")]:
        emit("empty", {"Evalfile": text}, 2, "Evalfile", "any" if b"suites" in text else None, why)
    # binary
    for i in range(60):
        size = R.choice([1, 7, 64, 512, 4096, 65536])
        data = rbytes(size)
        if i % 3 == 0:
            data = EVALFILE.encode()[: R.randrange(len(EVALFILE))] + data
        # a file that is neither empty nor valid; a first byte that YAML
        # takes as text could still parse: make sure it cannot
        data = b"\x00" + data if i % 2 else data + b"\x00\x01\xff"
        emit("binary", {"Evalfile": data}, 2, "Evalfile", "any", "%d random bytes" % size)
    # not UTF-8, in a key, a value and a comment, at random lines
    bad = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\xfe\xfe"]
    for i in range(42):
        ln = R.randrange(1, len(EVALFILE_LINES) + 1)
        ls = [l.encode() for l in EVALFILE_LINES]
        b = bad[i % len(bad)]
        where = i % 3
        if where == 0:
            ls[ln - 1] += b" # " + b
        elif where == 1:
            ls[ln - 1] = ls[ln - 1].replace(b":", b + b":", 1)
        else:
            ls[ln - 1] = ls[ln - 1] + b
        emit("utf8", {"Evalfile": b"\n".join(ls) + b"\n"}, 2, "Evalfile", "any",
             "invalid UTF-8 on line %d" % ln)
    # NUL bytes at random places
    for i in range(15):
        pos = R.randrange(len(EVALFILE))
        emit("nul", {"Evalfile": EVALFILE[:pos].encode() + b"\x00" + EVALFILE[pos:].encode()}, 2, "Evalfile",
             "any", "NUL at byte %d" % pos)
    # huge values
    big = "x" * (10 << 20)
    emit("huge", {"Evalfile": setline(EVALFILE, lineof("      command:"), "      command: [%s]" % big)}, 2,
         "Evalfile", lineof("      command:"), "a 10 MB list as a command")
    emit("huge", {"Evalfile": setline(EVALFILE, lineof("      type:"), "      type: " + "y" * (4 << 20))}, 2,
         "Evalfile", lineof("      type:"), "a 4 MB grader type")
    emit("huge", {"Evalfile": setline(EVALFILE, lineof("jobs:"), "k" * (1 << 20) + ": 1")}, 2, "Evalfile",
         "any", "a 1 MB key")
    emit("huge", {"Evalfile": EVALFILE + "# " + "c" * (40 << 20) + "\nbogus: 1\n"}, 2, "Evalfile",
         len(EVALFILE_LINES) + 2, "a 40 MB comment, then an unknown key")
    emit("huge", {"Evalfile": setline(EVALFILE, lineof("      deps:", lineof("  calc:")),
                                      "      deps: [%s]" % ", ".join("nofile%d" % i for i in range(20000)))},
         2, "Evalfile", lineof("      deps:", lineof("  calc:")), "20000 deps that do not exist")
    emit("huge", {"Evalfile": EVALFILE.replace("tasks: tasks/calc/*", "tasks: [%s]" % ", ".join(
        ["tasks/calc/*"] * 3000 + ["tasks/nothing%d/*" % i for i in range(100)]), 1)},
         2, "Evalfile", lineof("    tasks:"), "3000 repeated globs and 100 matching nothing")
    # flow mappings cut in the middle (the rest of the file gone)
    flows = [i for i, l in enumerate(EVALFILE_LINES) if "{" in l or "[" in l]
    for i in range(60):
        ln = flows[i % len(flows)]
        l = EVALFILE_LINES[ln]
        open_at = max(l.find("{"), l.find("["))
        cut = R.randrange(open_at + 1, len(l) - 1 + 1)
        text = "\n".join(EVALFILE_LINES[:ln] + [l[:cut]]) + ("\n" if i % 2 else "")
        emit("cut", {"Evalfile": text}, 2, "Evalfile", "any", "cut at line %d col %d" % (ln + 1, cut))
    # structure: tabs, duplicate keys, a list where a map goes
    emit("tab", {"Evalfile": EVALFILE.replace("    tasks: tasks/calc/*", "\ttasks: tasks/calc/*")}, 2, "Evalfile",
         "any", "a tab for indentation")
    for prefix in ("jobs:", "  calc:", "      command:", "      type:"):
        ln = lineof(prefix)
        ls = EVALFILE_LINES[:]
        ls.insert(ln, EVALFILE_LINES[ln - 1].split(":")[0] + ": again")
        emit("dupkey", {"Evalfile": "\n".join(ls) + "\n"}, 2, "Evalfile", "any", "duplicate key %s" % prefix)
    emit("badindent", {"Evalfile": EVALFILE.replace("      trim: true", "     trim: true")}, 2, "Evalfile", "any",
         "bad indentation")
    emit("unclosed", {"Evalfile": EVALFILE.replace('pattern: "^o"', 'pattern: "^o')}, 2, "Evalfile", "any",
         "an unclosed quote")


# ---------------------------------------------------------------------------
# task files

JSONL_GOOD = ['{"id": "q%d", "input": "text %d", "expected": "ok"}' % (i, i) for i in range(1, 6)]


def jsonl_case(kind, lines, bad, why, name="tasks/q.jsonl", transform=None):
    """a .jsonl (maybe compressed) of good lines with a bad one at line `bad`"""
    data = b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines)
    files = {}
    if transform:
        data = transform(data)
    if name != "tasks/q.jsonl":
        files["tasks/q.jsonl"] = None
        files["Evalfile"] = EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: " + name)
    files[name] = data
    emit(kind, files, 2, name, bad, why)


def zst(data):
    if zstandard:
        return zstandard.ZstdCompressor().compress(data)
    return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


BADLINES = [
    ('{"id": "x", "input": "cut', "truncated"),
    ('{"id": "x", "input": "a"', "unclosed object"),
    ('{"id": "x" "input": "a"}', "missing comma"),
    ('[1, 2, 3]', "a list, not an object"),
    ('"just text"', "a string"),
    ("42", "a number"),
    ("null", "null"),
    ('{"id": "x", "input": "a", "expected": "ok"} trailing', "trailing text"),
    ('{"id": {"a": 1}, "input": "a", "expected": "ok"}', "id an object"),
    ('{"id": "x", "input": "a"}', "no expected answer"),
    ('{"id": "x", "expected": "ok"}', "no input"),
    ('{"id": "q1", "input": "a", "expected": "ok"}', "duplicate id q1"),
    ('{"id": "x", "input": "a\\u0000b", "expected": "ok"}', "escaped NUL"),
    ('{"id": "x", "input": [{"role": "user"}], "expected": "ok"}', "a message without content"),
    ('{"id": "x", "input": "a", "expected": "ok", }', "trailing comma"),
    ("{'id': 'x', 'input': 'a'}", "single quotes"),
    ('{"id": "x", "input": "a", "expected": "ok"', "no closing brace"),
]


def tasks_jsonl():
    for fmt, name, tr in [("jsonl", "tasks/q.jsonl", None), ("gz", "tasks/q.jsonl.gz", lambda d: gzip.compress(d, mtime=0)),
                          ("zst", "tasks/q.jsonl.zst", zst)]:
        for text, why in BADLINES:
            pos = R.randrange(1, 6)
            lines = JSONL_GOOD[:pos - 1] + [text] + JSONL_GOOD[pos - 1:]
            if why.startswith("duplicate"):
                pos = max(pos, 2)
                lines = JSONL_GOOD[:pos - 1] + [text] + JSONL_GOOD[pos - 1:]
                if pos == 1:
                    pos = 2
            jsonl_case(fmt, lines, pos if not why.startswith("duplicate") else lines.index(text, 1) + 1,
                       why + " (" + fmt + ")", name, tr)
        # raw bytes in a line: a NUL anywhere, bytes that are not UTF-8 in
        # an id (in other fields they are data, shown as U+FFFD)
        for b, why in [(b"\x00", "a NUL byte"), (b"\xff\xfe", "an id not UTF-8"), (b"\xc3", "an id with a cut UTF-8 sequence")]:
            pos = R.randrange(1, 6)
            bad = (b'{"id": "x' + b + b'", "input": "a", "expected": "ok"}' if b != b"\x00"
                   else b'{"id": "x", "input": "a' + b + b'b", "expected": "ok"}')
            lines = [l.encode() for l in JSONL_GOOD]
            lines.insert(pos - 1, bad)
            jsonl_case(fmt, lines, pos, why + " (" + fmt + ")", name, tr)
        # a huge line that is not JSON, and one huge bad line among many
        for size in (1 << 20, 8 << 20):
            lines = JSONL_GOOD[:2] + ['{"id": "big", "input": "' + "z" * size] + JSONL_GOOD[2:]
            jsonl_case(fmt, lines, 3, "a %d MB unclosed line (%s)" % (size >> 20, fmt), name, tr)
        # truncated: cut anywhere in a line
        for i in range(6):
            whole = "\n".join(JSONL_GOOD)
            cut = R.randrange(len(JSONL_GOOD[0]) + 2, len(whole) - 2)
            if whole[cut - 1] in "}\n" or whole[cut] == "\n":
                cut -= 3
            text = whole[:cut]
            jsonl_case(fmt, [text], text.count("\n") + 1, "cut at byte %d (%s)" % (cut, fmt), name, tr)
    # compressed files that are corrupt or cut
    good = ("\n".join(JSONL_GOOD) + "\n").encode()
    for comp, name, f in [("gz", "tasks/q.jsonl.gz", lambda d: gzip.compress(d, mtime=0)), ("zst", "tasks/q.jsonl.zst", zst)]:
        c = f(good)
        variants = [(c[: len(c) // 2], "cut in half"), (c[:5], "only a header"),
                    (rbytes(200), "random bytes"), (good, "not compressed at all")]
        for k in range(4):
            bb = bytearray(c)
            at = R.randrange(10, len(bb) - 4)
            bb[at] ^= 0xFF
            variants.append((bytes(bb), "a flipped byte at %d" % at))
        for data, why in variants:
            emit("corrupt" + comp, {"tasks/q.jsonl": None, name: data,
                                   "Evalfile": EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: " + name)},
                 2, name, None, "%s: %s" % (comp, why))
    # a compression bomb: 200 MB of zeros in a few hundred kB
    bomb = gzip.compress(b'{"id": "a", "input": "' + b"0" * (200 << 20), compresslevel=9, mtime=0)
    emit("bombgz", {"tasks/q.jsonl": None, "tasks/q.jsonl.gz": bomb,
                    "Evalfile": EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: tasks/q.jsonl.gz")},
         2, "tasks/q.jsonl.gz", "any", "gz expanding to 200 MB")


def tasks_json():
    # .json: one object or an array of objects
    setq = lambda name: EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: " + name)
    objs = [
        ('{"input": "a", "expected": "ok"', 1, "truncated object"),
        ('{"input": "a",\n "expected": "ok",\n}', 3, "trailing comma"),
        ('{"input": 5, "expected": {"a": 1}}', None, "wrong types"),
        ('{"expected": "ok"}', None, "no input"),
        ('{"input": "a"}', None, "no expected"),
        ('"text"', None, "a string"),
        ("", None, "empty"),
        ('{"input": "a\\u0000", "expected": "ok"}', None, "escaped NUL"),
        ('{"input": "a", "expected": "ok"}\n{"input": "b"}', "any", "two objects"),
    ]
    for text, line, why in objs:
        emit("json", {"tasks/q.jsonl": None, "tasks/one.json": text, "Evalfile": setq("tasks/one.json")},
             2, "tasks/one.json", line, why)
    for b, why in [(b"\x00", "NUL"), (b"\x00\x00", "two NULs")]:
        emit("json", {"tasks/q.jsonl": None, "tasks/one.json": b'{"input": "a' + b + b'", "expected": "ok"}',
                      "Evalfile": setq("tasks/one.json")}, 2, "tasks/one.json", "any", why)
    arrs = [
        ('[{"id": "a", "input": "x", "expected": "ok"},\n{"id": "b", "input": "y"', 2, "cut array"),
        ('[{"id": "a", "input": "x", "expected": "ok"},\n 7]', 2, "a number in the array"),
        ('[{"id": "a", "input": "x", "expected": "ok"},\n "s"]', 2, "a string in the array"),
        ('[{"id": "a", "input": "x", "expected": "ok"},\n {"id": "a", "input": "y", "expected": "ok"}]', 2,
         "duplicate id"),
        ('[{"id": "a", "input": "x", "expected": "ok"},\n {"id": "b", "input": "y"}]', 2, "no expected"),
        ('[{"id": "a", "input": "x", "expected": "ok"},\n [1]]', 2, "a list in the array"),
        ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 1, "unclosed nesting"),
        ("[" * 100000 + "]" * 100000, "any", "100000 nested arrays"),
    ]
    for comp in ("", ".gz", ".zst"):
        for text, line, why in arrs:
            data = text.encode()
            if comp == ".gz":
                data = gzip.compress(data, mtime=0)
            elif comp == ".zst":
                data = zst(data)
            name = "tasks/arr.json" + comp
            emit("jsonarray", {"tasks/q.jsonl": None, name: data, "Evalfile": setq(name)}, 2, name, line,
                 why + comp)


def tasks_csv():
    rows = ["id,input,expected", "a,alpha,ok", "b,beta,ok", "c,gamma,ok"]
    cases = [
        ("unclosed quote", lambda r: r[:2] + ['c,"gamma,ok'] + r[2:], 3),
        ("extra cells", lambda r: r[:2] + ["c,gamma,ok,extra"] + r[2:], 3),
        ("too few cells", lambda r: r[:2] + ["c"] + r[2:], "any"),
        ("duplicate id", lambda r: r + ["a,again,ok"], 5),
        ("duplicate header", lambda r: ["id,input,input"] + r[1:], 1),
        ("empty header", lambda r: ["id,,expected"] + r[1:], "any"),
        ("text after a quote", lambda r: r[:2] + ['c,"gamma"x,ok'] + r[2:], 3),
        ("no expected column", lambda r: ["id,input,other"] + r[1:], "any"),
        ("no input column", lambda r: ["id,question,expected"] + r[1:], "any"),
    ]
    for fmt in ("csv", "tsv", "csv.gz", "tsv.zst"):
        sep = "\t" if fmt.startswith("tsv") else ","
        name = "tasks/d." + fmt
        for why, f, line in cases:
            text = "\n".join(x.replace(",", sep) for x in f(rows)) + "\n"
            data = text.encode()
            if fmt.endswith(".gz"):
                data = gzip.compress(data, mtime=0)
            elif fmt.endswith(".zst"):
                data = zst(data)
            emit(fmt.replace(".", ""), {"tasks/q.jsonl": None, name: data,
                                       "Evalfile": EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: " + name)},
                 2, name, line, why + " (" + fmt + ")")
        for b, why in [(b"\x00", "NUL"), (b"\xff\xfe", "an id not UTF-8")]:
            ln = R.randrange(2, 5)
            rs = [x.replace(",", sep).encode() for x in rows]
            rs[ln - 1] = rs[ln - 1][:1] + b + rs[ln - 1][1:]  # in the id
            data = b"\n".join(rs) + b"\n"
            if fmt.endswith(".gz"):
                data = gzip.compress(data, mtime=0)
            elif fmt.endswith(".zst"):
                data = zst(data)
            emit(fmt.replace(".", ""), {"tasks/q.jsonl": None, name: data,
                                       "Evalfile": EVALFILE.replace("tasks: tasks/q.jsonl", "tasks: " + name)},
                 2, name, ln, why + " (" + fmt + ")")


def tasks_folder():
    # task folders: bad task.json, missing or unreadable input
    for why, files, bad, line in [
        ("task.json truncated", {"tasks/calc/t1/task.json": '{"note": "x'}, "tasks/calc/t1/task.json", "any"),
        ("task.json a list", {"tasks/calc/t1/task.json": "[1, 2]"}, "tasks/calc/t1/task.json", None),
        ("task.json NUL", {"tasks/calc/t1/task.json": b'{"a": "\x00"}'}, "tasks/calc/t1/task.json", "any"),
        ("task.json escaped NUL", {"tasks/calc/t1/task.json": '{"a": "\\u0000"}'}, "tasks/calc/t1/task.json",
         None),
        ("task.json wrong input type", {"tasks/calc/t1/task.json": '{"input": {"a": 1}}',
                                        "tasks/calc/t1/input.txt": None}, "tasks/calc/t1", None),
        ("no input file", {"tasks/calc/t1/input.txt": None, "tasks/calc/t1/other.txt": "x"}, "tasks/calc/t1", None),
        ("no expected file", {"tasks/calc/t1/expected.txt": None}, "tasks/calc/t1", None),
        ("input with NUL", {"tasks/calc/t1/input.txt": b"a\x00b\n"}, "tasks/calc/t1/input.txt", None),
        ("expected with NUL", {"tasks/calc/t1/expected.txt": b"o\x00k\n"}, "tasks/calc/t1/expected.txt", None),
        ("binary input", {"tasks/calc/t1/input.txt": bytes(range(256)) * 4}, "tasks/calc/t1/input.txt", 1),
    ]:
        for variant in range(3):
            t = "t2" if variant == 1 else "t1"
            f = {k.replace("/t1", "/" + t): v for k, v in files.items()}
            if variant == 2:  # among more tasks
                for i in range(3, 6):
                    f["tasks/calc/t%d/input.txt" % i] = "x\n"
                    f["tasks/calc/t%d/expected.txt" % i] = "ok\n"
            bad2 = bad.replace("/t1", "/" + t)
            emit("folder", f, 2, bad2, line, why)


# ---------------------------------------------------------------------------
# templates: prompt.md (a command suite's prompt) and a judge's rubric

TEMPLATES = [
    ("Q: {{input\n", "unclosed {{"),
    ("Q: {{ input }\n", "one closing brace"),
    ("Q: {{nosuch}}\n", "unknown variable"),
    ("Q: {{task.}}\n", "empty field"),
    ("Q: {{ task }}\n", "task without field"),
    ("Q: {{output}}\n", "output in a prompt"),
    ('Q: {{ "open }}\n', "unclosed literal"),
    ("Q: {{ task.a | default: x }}\n", "default without quotes"),
    ("Q: {{ task.a | upper }}\n", "an unknown filter"),
    ("Q: {{ {{input}} }}\n", "nested braces"),
    ("Q: {{}}\n", "empty braces"),
    ("Q: {{ input input }}\n", "two names"),
    ("Q: {{task.nofield}}\n", "a field no task has"),
    ("Q: {{ 'a' 'b' }}\n", "two literals"),
    ("Q: {{ task.a | default: \"x\" | default: \"y\" }}\n", "two defaults"),
]


def templates():
    for text, why in TEMPLATES:
        for pre in range(4):
            lines = ["line %d: {{input}}" % i for i in range(pre * 3)]
            body = "\n".join(lines) + ("\n" if lines else "") + text
            line = len(lines) + 1
            if "nofield" in text:
                emit("template", {"prompt.md": body}, 2, "tasks/calc/t1", None, why)
                continue
            emit("template", {"prompt.md": body}, 2, "prompt.md", line, why)
    for b, why in [(b"\x00", "NUL"), (b"\x00\x00\x00", "NULs"), (b"a\x00", "a NUL after a letter")]:
        for ln in (1, 3):
            body = b"a\n" * (ln - 1) + b"Q: {{input}} " + b + b"\n"
            emit("template", {"prompt.md": body}, 2, "prompt.md", ln, why)
    emit("template", {"prompt.md": "x" * (8 << 20) + "\n{{input"}, 2, "prompt.md", 2, "8 MB, then unclosed")
    # a judge's rubric
    judge = EVALFILE.replace("""    grader:
      type: exact
      trim: true
      ignore_case: false""", """    grader:
      type: judge
      rubric: rubric.md
      provider: openai
      model: judge
      base_url: http://127.0.0.1:9/v1
      api_key_env: BADKEY""")
    for text, why in TEMPLATES[:8] + [("Grade {{output}} against {{expected}} {{nosuch}}\n", "unknown variable")]:
        if "output" in text and "nosuch" not in text:
            continue
        emit("rubric", {"Evalfile": judge, "rubric.md": "Grade this.\n" + text}, 2, "rubric.md", 2, why)


# ---------------------------------------------------------------------------
# HTTP: a misbehaving model server. Each case: a suite of model cells whose
# inputs name a fault; exit 1 naming the server and the cell.

HTTP_EVALFILE = """\
cache: cache
jobs: %(jobs)d
suites:
  m:
    tasks: tasks/m.jsonl
    timeout: %(timeout)s
    iterations: %(iters)d
    agent:
      provider: %(provider)s
      model: fault-model
      base_url: %(url)s
      api_key_env: BADKEY
      retries: %(retries)d
    grader: {type: exact}
"""
FAULTS = ["500", "400", "429", "malformed", "truncated", "drop", "error200", "empty200", "html", "giant",
          "reset", "badutf8", "redirect"]
SLOW = ["hang", "drip"]


def http():
    for f in FAULTS + SLOW:
        reps = 6 if f not in SLOW else 2
        for k in range(reps):
            provider = ["openai", "anthropic"][k % 2]
            retries = 1 if (k // 2) % 2 and f in ("500", "429", "drop", "reset", "truncated") else 0
            iters = 1 + (k // 2) % 2 if f not in SLOW else 1
            url = "http://127.0.0.1:@PORT@" + ("/v1" if provider == "openai" else "")
            if k == 5:
                url += "/"  # a trailing slash
            ntask = 1 + R.randrange(3)
            bad = R.randrange(ntask)
            lines = []
            for t in range(ntask):
                inp = "please FAULT:%s now" % f if t == bad else "REPLY: ok"
                lines.append(json.dumps({"id": "t%d" % t, "input": inp, "expected": "ok"}))
            text = HTTP_EVALFILE % dict(jobs=2, timeout=2 if f in SLOW else 20, iters=iters, provider=provider,
                                        url=url, retries=retries)
            emit("http-" + f, {"Evalfile": text, "tasks/m.jsonl": "\n".join(lines) + "\n"}, 1, "", None,
                 "%s from %s" % (f, provider), http=True, cell="m/t%d#1" % bad)


# first, the valid project every case breaks: it must run clean (exit 0)
emit("control", {}, 0, "", None, "the valid base project")
evalfile_types()
evalfile_unknown()
evalfile_yaml()
tasks_jsonl()
tasks_json()
tasks_csv()
tasks_folder()
templates()
http()
print(n)
