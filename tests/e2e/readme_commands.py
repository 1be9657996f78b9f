#!/usr/bin/env python3
"""tests/e2e/readme_commands.py — every `flotilla ...` command in README.md's sh blocks runs as
written (issue 17): from a scratch directory that links the repository's examples/ and tests/,
with the built flotilla first on PATH. Syntax lines (placeholders in capitals such as JOB.json,
[optional] parts, a|b choices) are skipped; every other command must exit 0.
Usage: readme_commands.py README.md FLOTILLA_BIN"""
import os
import re
import subprocess
import sys
import tempfile

readme, binary = sys.argv[1], os.path.abspath(sys.argv[2])
root = os.path.dirname(os.path.abspath(readme))
cmds, block, cont = [], False, ""
for line in open(readme, encoding="utf-8"):
    s = line.strip()
    if s.startswith("```"):
        block = s in ("```sh", "```bash")
        continue
    if not block:
        continue
    s = cont + s
    if s.endswith("\\"):
        cont = s[:-1] + " "
        continue
    cont = ""
    code = re.sub(r"\s+#.*$", "", s)  # comments after the command
    if "flotilla " not in code or "apt-get" in code or "meson " in code:
        continue
    # syntax lines: placeholders (JOB.json, PLAN.json, FILE, G, M ...), options in brackets, a|b
    if "[" in code or re.search(r"\b[A-Z][A-Z0-9_]*(\.[a-z]+)?\b", code.split("flotilla", 1)[1].replace("--", " ")) \
            and re.search(r"\b(JOB|PLAN|AVAIL|NODES|PLACEMENT|SCEN|NEW|RUNNING|P1|P2|FILE|PATH|G|M|N|B|S|C|H|K)\b", code):
        continue
    if re.search(r"\w\|\w", code):
        continue
    cmds.append(code)

bindir = os.path.dirname(binary)
env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
env.pop("FLOTILLA_CATALOG", None)
failed = 0
with tempfile.TemporaryDirectory() as d:
    for name in ("examples", "tests", "data"):
        os.symlink(os.path.join(root, name), os.path.join(d, name))
    for c in cmds:
        r = subprocess.run(["bash", "-c", c], cwd=d, env=env, capture_output=True, text=True, timeout=600)
        print(("ok   " if r.returncode == 0 else "FAIL ") + c)
        if r.returncode != 0:
            failed += 1
            print("     exit %d: %s" % (r.returncode, (r.stderr or r.stdout).strip()[:400]))
print("%d commands, %d failed" % (len(cmds), failed))
sys.exit(1 if failed or len(cmds) < 10 else 0)
