#!/usr/bin/env python3
"""Check that the library's folders only include downwards.

Layers, bottom to top (a file may include headers of its own layer or below):
  common -> profiles -> simulator -> planner -> matching -> whatif/export -> cli
Public headers (include/flotilla/...) may be included from anywhere.
Prints the folder-to-folder include graph; exits 1 when an upward edge is not
in the ALLOWED list (known violations, removed one by one as they are fixed),
and also when an ALLOWED entry no longer occurs (so the list only shrinks).

Usage: check_layers.py [SOURCE_ROOT]
"""
import os
import re
import sys

LAYERS = ["common", "profiles", "simulator", "planner", "matching",
          "whatif", "export", "cli"]
RANK = {"common": 0, "profiles": 1, "simulator": 2, "planner": 3,
        "matching": 4, "whatif": 5, "export": 5, "cli": 6}

# Known upward edges (file -> included header). Remove entries as they are fixed.
ALLOWED = {
    ("common/job.c", "simulator/serve_model.h"),
    ("common/job.h", "profiles/catalog.h"),
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def scan(root):
    """Return a list of (file, header) pairs for quoted includes between layers."""
    edges = []
    for layer in LAYERS:
        top = os.path.join(root, layer)
        if not os.path.isdir(top):
            continue
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        m = INCLUDE_RE.match(line)
                        if m:
                            edges.append((rel, m.group(1)))
    return edges


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    edges = scan(root)
    graph = {}
    bad = []
    seen_allowed = set()
    for src, hdr in edges:
        src_layer = src.split("/")[0]
        hdr_layer = hdr.split("/")[0] if "/" in hdr else src_layer
        if hdr_layer not in RANK:
            continue  # public header (flotilla/...) or system-ish include
        graph.setdefault((src_layer, hdr_layer), 0)
        graph[(src_layer, hdr_layer)] += 1
        if RANK[hdr_layer] > RANK[src_layer]:
            if (src, hdr) in ALLOWED:
                seen_allowed.add((src, hdr))
            else:
                bad.append((src, hdr))
    print("include graph between folders (edges: count):")
    for (a, b), n in sorted(graph.items(), key=lambda e: (RANK[e[0][0]], e[0])):
        if a != b:
            mark = "  UPWARD" if RANK[b] > RANK[a] else ""
            print(f"  {a} -> {b}: {n}{mark}")
    status = 0
    for src, hdr in bad:
        print(f"error: upward include: {src} includes {hdr}")
        status = 1
    for src, hdr in sorted(set(ALLOWED) - seen_allowed):
        if not os.path.exists(os.path.join(root, src)):
            continue  # a tree without that file (e.g. the test fixture): nothing to shrink
        print(f"error: allow-listed edge no longer exists, remove it: {src} -> {hdr}")
        status = 1
    if status == 0:
        print(f"ok: no upward includes ({len(ALLOWED)} allow-listed)")
    return status


if __name__ == "__main__":
    sys.exit(main())
