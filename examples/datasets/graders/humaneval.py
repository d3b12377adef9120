#!/usr/bin/env python3
"""Grade a HumanEval-style answer by running the task's tests against it.

The answer (stdin) is a whole program defining the function. The tests are
the task's expected answer (the suite maps `expected: test`), so the agent
never sees them. The function to check is the task's entry_point when the
grader gets the task's fields (EVAL_TASK_JSON), else the last function the
answer defines. Prints 1, or 0 and why."""
import json
import os
import re
import subprocess
import sys

program = sys.stdin.read()
test = os.environ.get("EVAL_EXPECTED", "")
entry = None
if os.environ.get("EVAL_TASK_JSON"):
    try:
        with open(os.environ["EVAL_TASK_JSON"]) as f:
            entry = json.load(f).get("entry_point")
    except (OSError, ValueError):
        entry = None
if not entry:
    defs = re.findall(r"^def (\w+)", program, re.M)
    entry = defs[-1] if defs else "missing"
code = program + "\n" + test + "\ncheck(" + entry + ")\n"
try:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
except subprocess.TimeoutExpired:
    print("0 the tests took more than 20 s")
    sys.exit(0)
if r.returncode == 0:
    print("1")
else:
    last = (r.stderr.strip().splitlines() or ["failed"])[-1]
    print("0 " + last)
