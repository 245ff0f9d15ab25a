#!/usr/bin/env python3
"""The browser harness (check_html.py) tested on pages written here: a good page passes with the
right expectations, and each kind of bad page -- a console error, an uncaught exception, an
external script, a wrong point count, a missing lane, a blank page -- fails. Exit 77 (skip)
without Chromium."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def page(body, script=""):
    # Enough drawn area that the screenshot is clearly not blank.
    bars = "".join(f'<rect x="{i * 20}" y="{200 - i * 8}" width="15" height="{i * 8}" '
                   f'fill="#{(i * 40) % 256:02x}77aa"/>' for i in range(25))
    return ("<!doctype html><html><head><meta charset='utf-8'></head><body>"
            f"<h1>harness fixture</h1><svg width='600' height='220'>{bars}{body}</svg>"
            f"{script}</body></html>")


GOOD = page('<g class="series" data-name="loss" data-run="a">'
            '<polyline points="0,0 10,10 20,5 30,7 40,1"/></g>'
            '<g class="lane" data-name="compute"><rect class="span" x="0" y="0" width="5" '
            'height="5"/></g><g class="bar-segment" data-name="model states"></g>')


def run(html_text, *expect, tmp):
    path = os.path.join(tmp, f"p{run.n}.html")
    run.n += 1
    with open(path, "w") as f:
        f.write(html_text.replace("<body>", "<body><section id='s'><h2>s</h2></section>"))
    r = subprocess.run([sys.executable, os.path.join(HERE, "check_html.py"), path,
                        "--width", "800", "--height", "600", "--min-png-bytes", "6000",
                        *expect], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


run.n = 0


def main():
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        rc, out = run(GOOD, "--expect-series", "loss=5", "--expect-lane", "compute",
                      "--expect-segment", "model states", "--expect-section", "s", tmp=tmp)
        if rc == 77:
            print(out)
            sys.exit(77)
        cases = [
            ("good page", rc, 0, out),
        ]
        bad = {
            "console.error": (page("", "<script>console.error('boom')</script>"), []),
            "uncaught exception": (page("", "<script>undefined_function()</script>"), []),
            "external script": (page("", "<script src='https://example.invalid/x.js'>"
                                         "</script>"), []),
            "wrong point count": (GOOD, ["--expect-series", "loss=6"]),
            "missing series": (GOOD, ["--expect-series", "val_loss=5"]),
            "missing lane": (GOOD, ["--expect-lane", "H2D"]),
            "missing section": (GOOD, ["--expect-section", "timeline"]),
            "blank page": ("<!doctype html><html><body></body></html>", []),
        }
        for name, (text, expect) in bad.items():
            rc, out = run(text, *expect, tmp=tmp)
            cases.append((name, rc, 1, out))
        for name, rc, want, out in cases:
            status = "ok" if rc == want else "WRONG"
            ok &= rc == want
            print(f"{status}: {name}: exit {rc}, expected {want}")
            if rc != want:
                print(out)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
