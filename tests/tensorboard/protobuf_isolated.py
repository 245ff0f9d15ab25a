#!/usr/bin/python3
"""MART's protobuf-lite copy stays private to the binary (CMakeLists.txt, io/proto/): the binary
neither exports nor imports any google::protobuf symbol (so libsentencepiece.so's embedded, older
protobuf-lite and MART's cannot bind to each other) and links no libprotobuf.

Usage: protobuf_isolated.py BINARY... [--negative LIB]
LIB (negative control) is a library known to export protobuf symbols (Debian's
libsentencepiece.so): the check must report it. Exit 0: pass; 1: fail; 77: nm/readelf missing.
"""
import argparse
import shutil
import subprocess
import sys


def problems(path):
    out = []
    syms = subprocess.run(["nm", "-D", path], capture_output=True, text=True, check=True).stdout
    bad = [l for l in syms.splitlines() if "6google8protobuf" in l]
    if bad:
        out.append(f"{path}: {len(bad)} dynamic google::protobuf symbols, e.g. {bad[0].strip()}")
    dyn = subprocess.run(["readelf", "-d", path], capture_output=True, text=True,
                         check=True).stdout
    out += [f"{path}: links {l.split('[')[-1].rstrip(']')}" for l in dyn.splitlines()
            if "NEEDED" in l and "libprotobuf" in l]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--negative")
    args = ap.parse_args()
    if not shutil.which("nm") or not shutil.which("readelf"):
        print("SKIP: nm or readelf missing")
        return 77
    failed = False
    for b in args.binaries:
        p = problems(b)
        for x in p:
            print("FAIL:", x, file=sys.stderr)
        failed |= bool(p)
        if not p:
            print(f"protobuf_isolated: {b}: no protobuf symbol in or out, no libprotobuf")
    if args.negative:
        p = problems(args.negative)
        if not p:
            print(f"FAIL: negative control: nothing reported for {args.negative}", file=sys.stderr)
            failed = True
        else:
            print(f"protobuf_isolated: negative control reported: {p[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
