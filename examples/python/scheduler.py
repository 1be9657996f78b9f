#!/usr/bin/env python3
"""The miniature scheduler of examples/scheduler/scheduler.c, in Python through ctypes.

usage: FLOTILLA_LIB=build/libflotilla.so python3 examples/python/scheduler.py JOB.json NODES.csv EVENTS.csv
"""
import csv
import json
import sys

import flotilla


def inventory(nodes):
    up = [n for n in nodes if n["up"]]
    av = {"zones": {}}
    for n in up:
        z = av["zones"].setdefault(n["zone"], {})
        z[n["gpu"]] = z.get(n["gpu"], 0) + n["gpus"]
    return {"nodes": [{k: n[k] for k in ("id", "zone", "gpu", "gpus")} for n in up]}, av


def schedule(cat, job, nodes, now, running, horizon):
    inv, av = inventory(nodes)
    plan, summary = cat.plan(job, av, current=running, horizon_hours=horizon)
    placed, report = cat.place(plan, inv, current=running)
    decision = plan.get("replan", {}).get("decision", "start")
    rate = summary["tokens_per_s"] if summary["kind"] == 0 else summary["throughput_rps"]
    print("t=%7.0fs  %-5s  %3d GPUs  %10.4g %s  $%7.2f/h  shards moved %d/%d (%.1f GB)" % (
        now, decision, summary["gpus"], rate, "tok/s" if summary["kind"] == 0 else "req/s",
        summary["cost_per_hour"], report["shards_moved"], report["shards"], report["bytes_moved"] / 1e9))
    return placed


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    job = json.load(open(argv[1]))
    nodes = [dict(r, gpus=int(r["gpus"]), up=True) for r in csv.DictReader(open(argv[2]))]
    events = list(csv.DictReader(open(argv[3])))
    horizon = float(argv[4]) if len(argv) > 4 else 24.0
    cat = flotilla.Catalog()
    print("flotilla %s (ctypes): %d nodes" % (flotilla.version(), len(nodes)))
    running = schedule(cat, job, nodes, 0, None, horizon)
    times = sorted({float(e["time_s"]) for e in events})
    for t in times:
        for e in events:
            if float(e["time_s"]) == t:
                for n in nodes:
                    if n["id"] == e["node"]:
                        n["up"] = e["state"] == "up"
        running = schedule(cat, job, nodes, t, running, horizon)
    # errors come back as exceptions naming the field
    try:
        cat.plan({"kind": "training", "model": "gpt-9", "global_batch": 8})
    except flotilla.FlotillaError as e:
        print("bad job rejected as expected: [%s] %s" % (e.field, e))
    cat.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
