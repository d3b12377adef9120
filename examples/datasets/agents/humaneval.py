#!/usr/bin/env python3
"""A recorded model for data/humaneval.jsonl.gz: it answers with the whole
function, the prompt and a body (the last body is wrong: it misses capital
vowels)."""
import os
import sys

BODIES = {
    "HumanEval/0": "    return a + b\n",
    "HumanEval/1": "    return text == text[::-1]\n",
    "HumanEval/2": "    return sum(c in 'aeiou' for c in s)\n",
}
prompt = sys.stdin.read()
sys.stdout.write(prompt + BODIES.get(os.environ.get("EVAL_TASK", ""), "    pass\n"))
