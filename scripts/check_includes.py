#!/usr/bin/env python3
"""The module dependency rule, enforced: every #include "..." between MART's modules must be an
edge of ALLOWED below, which docs/ARCHITECTURE.md draws. Run by CTest (arch.includes); the test
arch.includes_negative plants a bad edge in a copy of the tree and expects this to fail.

Usage: check_includes.py [--root DIR] [--print-edges]
Exit 0: every edge allowed. Exit 1: lists each forbidden edge as file:line, the edge, and the
rule. A source folder that belongs to no module is an error too, so a new folder must be placed.
"""
import argparse
import os
import re
import sys

# Module -> the folder trees it owns (longest prefix wins). Each library target owns one tree
# (CMakeLists.txt mart_module); launcher/ is the `mart` binary.
MODULES = {
    "common": ["common"],
    "device": ["device"],
    "layout": ["layout"],
    "io": ["io"],
    "config": ["config"],
    "kernels": ["kernels"],
    "cuda": ["cuda"],
    "memory": ["memory"],
    "planner": ["planner"],
    "runtime": ["runtime"],
    "profiler": ["profiler"],
    "launcher": ["launcher"],
    "capi": ["capi"],
    "report": ["report"],
}

# module -> modules it may include (besides itself). Bottom-up; no cycles.
ALLOWED = {
    "common": [],
    "device": ["common"],
    "layout": ["common"],
    "io": ["common"],
    "config": ["common", "layout"],
    "kernels": ["common", "device"],
    "cuda": ["common", "device", "kernels", "layout"],
    # Nobody includes cuda/: it is libmart_cuda.so, reached through device/cuda_backend.h.
    "memory": ["common", "device", "layout", "kernels"],
    "planner": ["common", "layout", "config"],
    "runtime": ["common", "device", "layout", "io", "config", "kernels", "memory"],
    "profiler": ["common", "device", "layout", "io", "config", "kernels", "memory", "runtime",
                 "planner"],
    # report: the HTML pages; reads run files and plans, never a device or a Session.
    "report": ["common", "layout", "io", "config", "planner"],
    "launcher": ["common", "device", "layout", "io", "config", "kernels", "memory", "runtime",
                 "planner", "profiler", "report"],
    # libmart: the C API (include/mart/mart.h, third-party to this check) over everything but cuda.
    "capi": ["common", "device", "layout", "io", "config", "kernels", "memory", "runtime",
             "planner", "profiler"],
}

# Folders that hold no module code (tests and benchmarks may include any module).
UNCHECKED = ("tests", "bench", "build", "examples", "python", "docs", "configs", "scripts",
             "include", ".git", ".ci")
SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc", ".c", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def module_of(path):
    parts = path.replace(os.sep, "/").split("/")
    best = None
    for mod, trees in MODULES.items():
        for t in trees:
            tp = t.split("/")
            if parts[: len(tp)] == tp and (best is None or len(tp) > best[1]):
                best = (mod, len(tp))
    return best[0] if best else None


def check(root):
    errors, edges = [], set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        top = rel_dir.split(os.sep)[0]
        if top.startswith("build") or top in UNCHECKED:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            if not name.endswith(SOURCE_EXT):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            src = module_of(rel)
            if src is None:
                errors.append(f"{rel}: the folder {rel_dir}/ belongs to no module; add it to "
                              "MODULES in scripts/check_includes.py (and CMakeLists.txt)")
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    if "/" not in inc:
                        continue  # a sibling header
                    dst = module_of(inc)
                    if dst is None or dst == src:
                        continue  # third-party ("nlohmann/json_fwd.hpp") or the module itself
                    edges.add((src, dst))
                    if dst not in ALLOWED[src]:
                        errors.append(
                            f"{rel}:{lineno}: {src} -> {dst} (#include \"{inc}\") is not an "
                            f"allowed edge; {src} may include only: "
                            f"{', '.join(ALLOWED[src]) or 'nothing'} (docs/ARCHITECTURE.md)")
    return errors, edges


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--print-edges", action="store_true",
                    help="print the edges the tree actually has")
    args = ap.parse_args()
    errors, edges = check(os.path.abspath(args.root))
    if args.print_edges:
        for s, d in sorted(edges):
            print(f"{s} -> {d}")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check_includes: {len(errors)} forbidden include edge(s)", file=sys.stderr)
        return 1
    print(f"check_includes: {len(edges)} module edges, all allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
