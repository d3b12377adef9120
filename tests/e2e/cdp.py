#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (--remote-debugging-pipe),
for the live view's tests. Standard library only.

usage: cdp.py URL < COMMANDS
Opens URL in a headless Chromium, then runs one command per line of stdin:
  wait EXPR          evaluate EXPR in the page until it is truthy (bounded:
                     at most WAIT seconds, default 60); fails otherwise
  print EXPR         evaluate EXPR, print its value (as JSON) on a line
  write PATH TEXT    write TEXT and a newline to PATH (an editor's save)
  type ID TEXT       set the value of the input or select #ID to TEXT and fire
                     its input and change events, as a user would
Exit status 0 when every command succeeded, 1 otherwise (a message on stderr).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

WAIT = float(os.environ.get("WAIT", "60"))


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="cdp-profile.")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # Chromium reads fd 3 and writes fd 4; move both out of the way
            # first, as either may already be 3 or 4
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [os.environ.get("CHROMIUM", "chromium"), "--headless", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
            close_fds=False, preexec_fn=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.nextid = 0
        self.session = None

    def send(self, method, params=None, session=True):
        self.nextid += 1
        msg = {"id": self.nextid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_chrome, 65536)
                if not chunk:
                    raise RuntimeError("chromium went away")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == self.nextid:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def open(self, url):
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        self.session = self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.send("Runtime.enable")
        self.send("Page.navigate", {"url": url})

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            return None
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    b = Browser()
    ok = True
    try:
        b.open(sys.argv[1])
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            cmd, _, arg = line.partition(" ")
            if cmd == "wait":
                end = time.monotonic() + WAIT
                while not b.eval("!!(" + arg + ")"):
                    if time.monotonic() > end:
                        print("cdp.py: still false after %gs: %s" % (WAIT, arg), file=sys.stderr)
                        ok = False
                        break
                    time.sleep(0.1)
            elif cmd == "print":
                print(json.dumps(b.eval(arg)), flush=True)
            elif cmd == "write":
                path, _, text = arg.partition(" ")
                with open(path, "w") as f:
                    f.write(text + "\n")
            elif cmd == "type":
                ident, _, text = arg.partition(" ")
                b.eval("(function (e) { e.value = %s; e.dispatchEvent(new Event('input'));"
                       " e.dispatchEvent(new Event('change')); return true; })(document.getElementById(%s))"
                       % (json.dumps(text), json.dumps(ident)))
            else:
                print("cdp.py: unknown command: " + cmd, file=sys.stderr)
                ok = False
            if not ok:
                break
    finally:
        b.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
