#!/usr/bin/env python3
"""tests/export/check_export.py — tests of `flotilla export`.

  check_export.py golden   FLOTILLA     compare exports of tests/data/plans/export/*.json with
                                        tests/data/export/ (and parse every YAML/JSON file written)
  check_export.py regen    FLOTILLA     rewrite the goldens (docs/export.md: when to do it)
  check_export.py examples FLOTILLA     plan every examples/jobs job, export it to every format:
                                        files or a refusal with a reason, never a crash or empty output
  check_export.py bad      FLOTILLA     bad input: unknown format, missing plan, training plan to
                                        vllm, -o into a non-directory
Run from the source root.
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

FORMATS = ["skypilot", "kubernetes", "slurm", "megatron", "vllm"]
PLANS = "tests/data/plans/export"
GOLD = "tests/data/export"


def run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def split_files(out):
    """The printed export: '# ==> NAME <==' then the file's text."""
    files, name = {}, None
    for line in out.splitlines(keepends=True):
        if line.startswith("# ==> ") and line.rstrip().endswith(" <=="):
            name = line.rstrip()[6:-4]
            files[name] = ""
        elif name is None:
            raise AssertionError("output before the first file header: %r" % line)
        else:
            files[name] += line
    return files


def check_parses(files, where):
    """Every YAML parses (all documents non-empty), every JSON parses, scripts are non-empty."""
    for name, text in files.items():
        assert text.strip(), "%s: %s is empty" % (where, name)
        if name.endswith(".yaml"):
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
            assert docs, "%s: %s holds no YAML document" % (where, name)
            for d in docs:
                assert isinstance(d, dict), "%s: %s: a document is not a mapping" % (where, name)
        elif name.endswith(".json"):
            json.loads(text)
        elif name.endswith(".sh") or name.endswith(".sbatch"):
            assert text.startswith("#!/bin/bash\n"), "%s: %s has no shebang" % (where, name)
            r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
            assert r.returncode == 0, "%s: %s: bash -n: %s" % (where, name, r.stderr)


def export(fl, plan, fmt):
    r = run([fl, "export", plan, "--to", fmt])
    if r.returncode == 0:
        assert r.stdout and not r.stderr.strip(), "%s %s: exit 0 with empty output or stderr %r" % (plan, fmt, r.stderr)
        files = split_files(r.stdout)
        check_parses(files, "%s --to %s" % (plan, fmt))
        return "ok", r.stdout, files
    assert r.returncode == 1, "%s %s: exit %d (%s)" % (plan, fmt, r.returncode, r.stderr)
    assert not r.stdout, "%s %s: refused but printed %r" % (plan, fmt, r.stdout[:200])
    assert r.stderr.startswith("flotilla: ") and len(r.stderr.strip()) > 30, \
        "%s %s: refusal without a reason: %r" % (plan, fmt, r.stderr)
    return "refused", r.stderr, None


def golden(fl, regen):
    plans = sorted(f for f in os.listdir(PLANS) if f.endswith(".json"))
    assert plans, "no plan fixtures"
    n_ok = n_ref = 0
    mismatches = []
    for p in plans:
        for fmt in FORMATS:
            kind, text, _ = export(fl, os.path.join(PLANS, p), fmt)
            gname = os.path.join(GOLD, "%s.%s.%s" % (p[:-5], fmt, "out" if kind == "ok" else "refused"))
            other = os.path.join(GOLD, "%s.%s.%s" % (p[:-5], fmt, "refused" if kind == "ok" else "out"))
            n_ok += kind == "ok"
            n_ref += kind == "refused"
            if regen:
                with open(gname, "w") as f:
                    f.write(text)
                if os.path.exists(other):
                    os.remove(other)
                continue
            if not os.path.exists(gname):
                mismatches.append("%s --to %s: %s (no golden %s)" % (p, fmt, kind, gname))
                continue
            with open(gname) as f:
                want = f.read()
            if want != text:
                mismatches.append("%s --to %s differs from %s" % (p, fmt, gname))
    print("%d exports, %d refusals%s" % (n_ok, n_ref, " (goldens rewritten)" if regen else ""))
    assert n_ok >= 10 and n_ref >= 3, "the fixtures should both export and be refused"
    if mismatches:
        raise AssertionError("\n".join(mismatches) + "\n(regenerate with tests/export/regen.sh if intended)")


def examples(fl):
    jobs = sorted(f for f in os.listdir("examples/jobs") if f.endswith(".json") and not f.startswith("avail"))
    assert jobs
    with tempfile.TemporaryDirectory() as tmp:
        for j in jobs:
            plan = os.path.join(tmp, j)
            r = run([fl, "plan", os.path.join("examples/jobs", j), "-o", plan, "--time-limit", "300"])
            assert r.returncode == 0, "plan %s: exit %d %s" % (j, r.returncode, r.stderr)
            for fmt in FORMATS:
                kind, text, _ = export(fl, plan, fmt)
                print("%-32s %-10s %s" % (j, fmt, kind if kind == "ok" else text.strip()[:100]))


def bad(fl):
    plan = os.path.join(PLANS, "train_llama3_8b_per_dollar.json")
    r = run([fl, "export", plan, "--to", "yaml"])
    assert r.returncode == 1 and "unknown export format" in r.stderr and not r.stdout, r
    r = run([fl, "export", "/nonexistent/plan.json", "--to", "slurm"])
    assert r.returncode == 1 and "/nonexistent/plan.json" in r.stderr and not r.stdout, r
    r = run([fl, "export", plan, "--to", "vllm"])
    assert r.returncode == 1 and "training plan" in r.stderr and not r.stdout, r
    r = run([fl, "export", plan])
    assert r.returncode == 2 and "--to" in r.stderr, r
    r = run([fl, "export", plan, "--to"])
    assert r.returncode == 2, r
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "file")
        open(f, "w").close()
        r = run([fl, "export", plan, "--to", "megatron", "-o", f])
        assert r.returncode == 1 and "not a directory" in r.stderr, r
        assert os.path.getsize(f) == 0, "the non-directory was written to"
        r = run([fl, "export", plan, "--to", "megatron", "-o", os.path.join(f, "sub")])
        assert r.returncode == 1, r
        out = os.path.join(tmp, "out", "deeper")
        r = run([fl, "export", plan, "--to", "kubernetes", "--queue", "team-a", "-o", out])
        assert r.returncode == 0, r
        docs = list(yaml.safe_load_all(open(os.path.join(out, "kubernetes", "jobset.yaml"))))
        assert docs[0]["kind"] == "JobSet"
        assert docs[0]["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    # a hand-broken plan is refused by the plan check, naming the field
    r = run([fl, "export", "tests/data/plans/train_bad_tp.json", "--to", "megatron"])
    assert r.returncode == 1 and "tp" in r.stderr and not r.stdout, r
    print("bad input: ok")


def main():
    mode, fl = sys.argv[1], sys.argv[2]
    {"golden": lambda: golden(fl, False), "regen": lambda: golden(fl, True), "examples": lambda: examples(fl),
     "bad": lambda: bad(fl)}[mode]()


if __name__ == "__main__":
    main()
