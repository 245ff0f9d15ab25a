#!/usr/bin/env python3
"""Opens one of MART's HTML pages in headless Chromium and checks it, the way a person would see it.

  1. Self-contained: no external script, stylesheet, font or image (no network when opened).
  2. Chromium (--headless --no-sandbox --disable-gpu) loads it with no console message at all
     (an uncaught exception or console.error shows up as one) and takes a screenshot, which must be
     a PNG of the requested size and at least --min-png-bytes (a blank page compresses to ~5 kB).
  3. The DOM after load (--dump-dom) holds what the test expects, read through the conventions in
     report/html.h: <g class="series" data-name=N data-run=R> with one <polyline> whose points are
     the data points; <g class="lane" data-name=N> with <rect class="span"> children;
     <g class="bar-segment" data-name=N>; <section id=...>.

Usage:
  check_html.py PAGE.html [--screenshot OUT.png] [--width 1200] [--height 2400]
      [--min-png-bytes 20000] [--expect-series NAME=POINTS ...] [--expect-section ID ...]
      [--expect-lane NAME ...] [--expect-segment NAME ...] [--json OUT.json]
--expect-series NAME=POINTS: every series named NAME (one per run in an overlay) has POINTS points,
and there is at least one. Prints a JSON summary of what it found. Exit 0: all checks pass;
1: a check failed (each failure is printed); 77: Chromium is not installed (the test is skipped:
scripts/install-deps.sh installs it).
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--no-first-run", "--disable-extensions", "--mute-audio"]
# Anything that would make the browser fetch: external scripts, stylesheets, fonts, images.
EXTERNAL = re.compile(r"""(<script[^>]+src=|<link[^>]+href=|@import|url\(\s*['"]?(https?:|//)|"""
                      r"""<img[^>]+src=['"]?(https?:|//)|<iframe)""", re.I)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(chromium, args, timeout=120):
    # A private profile per run: parallel CTest runs must not share one.
    with tempfile.TemporaryDirectory(prefix="mart-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def console_messages(stderr):
    # With --enable-logging=stderr every console call and uncaught error is one line
    # "...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)".
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


class DomSummary(html.parser.HTMLParser):
    """Series, lanes, bar segments and sections of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.series = []  # {"name", "run", "points"}
        self.lanes = {}   # name -> number of spans
        self.segments = []
        self.sections = []
        self._stack = []  # (tag, kind, record) for open <g>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section" and a.get("id"):
            self.sections.append(a["id"])
        if tag == "g":
            rec = None
            if "series" in classes:
                rec = {"name": a.get("data-name", ""), "run": a.get("data-run", ""),
                       "points": 0, "polylines": 0}
                self.series.append(rec)
            elif "lane" in classes:
                rec = a.get("data-name", "")
                self.lanes.setdefault(rec, 0)
            elif "bar-segment" in classes:
                self.segments.append(a.get("data-name", ""))
            kind = "series" if "series" in classes else "lane" if "lane" in classes else None
            self._stack.append((kind, rec))
            return
        owner = next((s for s in reversed(self._stack) if s[0]), None)
        if tag == "polyline" and owner and owner[0] == "series":
            owner[1]["polylines"] += 1
            owner[1]["points"] += len((a.get("points") or "").split())
        if tag == "rect" and "span" in classes and owner and owner[0] == "lane":
            self.lanes[owner[1]] += 1

    def handle_endtag(self, tag):
        if tag == "g" and self._stack:
            self._stack.pop()


def check(args):
    failures = []
    page = os.path.abspath(args.page)
    text = open(page, encoding="utf-8").read()
    m = EXTERNAL.search(text)
    if m:
        failures.append(f"not self-contained: {m.group(0)!r} at offset {m.start()}")

    chromium = find_chromium()
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install-deps.sh installs Debian's "
              "chromium)")
        sys.exit(77)
    url = "file://" + page
    shot = args.screenshot or os.path.join(tempfile.mkdtemp(prefix="mart-shot-"), "page.png")
    r = run_chromium(chromium, ["--enable-logging=stderr", "--v=0",
                                f"--window-size={args.width},{args.height}",
                                f"--screenshot={shot}", url])
    console = console_messages(r.stderr)
    if console:
        failures.append("console messages:\n  " + "\n  ".join(console))
    if not os.path.exists(shot):
        failures.append(f"no screenshot written (chromium exit {r.returncode}):\n{r.stderr[-2000:]}")
        png = None
    else:
        png = png_size(shot)
        nbytes = os.path.getsize(shot)
        if png != (args.width, args.height):
            failures.append(f"screenshot is {png}, expected {(args.width, args.height)}")
        if nbytes < args.min_png_bytes:
            failures.append(f"screenshot is {nbytes} bytes, under --min-png-bytes "
                            f"{args.min_png_bytes}: the page looks (nearly) blank")

    dom = run_chromium(chromium, ["--dump-dom", url])
    summary = DomSummary()
    summary.feed(dom.stdout)
    if "<body" not in dom.stdout:
        failures.append(f"--dump-dom returned no document (exit {dom.returncode})")

    for exp in args.expect_series:
        name, _, n = exp.rpartition("=")
        found = [s for s in summary.series if s["name"] == name]
        if not found:
            failures.append(f"no series named {name!r} (series: "
                            f"{sorted({s['name'] for s in summary.series})})")
        for s in found:
            if s["polylines"] != 1 or s["points"] != int(n):
                failures.append(f"series {name!r} of run {s['run']!r}: {s['points']} points in "
                                f"{s['polylines']} polyline(s), expected {n} in 1")
    for sec in args.expect_section:
        if sec not in summary.sections:
            failures.append(f"no <section id={sec!r}> (sections: {summary.sections})")
    for lane in args.expect_lane:
        if summary.lanes.get(lane, 0) == 0:
            failures.append(f"lane {lane!r} missing or without spans (lanes: {summary.lanes})")
    for seg in args.expect_segment:
        if seg not in summary.segments:
            failures.append(f"no bar segment {seg!r} (segments: {summary.segments})")

    result = {"page": page, "screenshot": shot, "png": png,
              "png_bytes": os.path.getsize(shot) if os.path.exists(shot) else 0,
              "console": console, "series": summary.series, "lanes": summary.lanes,
              "segments": summary.segments, "sections": summary.sections,
              "failures": failures}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("page", "png", "png_bytes", "sections", "lanes")}))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("page")
    p.add_argument("--screenshot")
    p.add_argument("--width", type=int, default=1200)
    p.add_argument("--height", type=int, default=2400)
    p.add_argument("--min-png-bytes", type=int, default=20000)
    p.add_argument("--expect-series", action="append", default=[])
    p.add_argument("--expect-section", action="append", default=[])
    p.add_argument("--expect-lane", action="append", default=[])
    p.add_argument("--expect-segment", action="append", default=[])
    p.add_argument("--json")
    sys.exit(check(p.parse_args()))


if __name__ == "__main__":
    main()
