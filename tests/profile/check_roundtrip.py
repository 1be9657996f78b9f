"""Round trip of measured rows: every row of JSONL (env rows aside) must be in CATALOG's table
`measured` in file order, its stored JSON holding each written member with the same value (the
importer may add members, never change one), and the indexed columns holding its times.
usage: check_roundtrip.py FILE.jsonl CATALOG.sqlite [KIND,KIND,... [GPU]]
(kinds that must occur; GPU: the catalog name the rows' gpu resolves to, when it is an alias)"""

import json
import os
import sqlite3
import sys

# written member -> indexed column that must hold the same number
COLUMNS = {"seconds": "seconds", "iter_s": "seconds", "fwd_s": "fwd_s", "fwdbwd_s": "fwdbwd_s",
           "fwd_s_per_layer": "fwd_s", "fwdbwd_s_per_layer": "fwdbwd_s", "act_bytes_per_layer": "act_bytes"}


def main(path, catalog, kinds="", gpu=None):
    with open(path) as f:
        written = [json.loads(line) for line in f if line.strip()]
    written = [r for r in written if r["kind"] != "env"]
    db = sqlite3.connect(catalog)
    base = os.path.basename(path) + ":"
    cur = db.execute("SELECT kind, row, seconds, fwd_s, fwdbwd_s, act_bytes, oom FROM measured "
                     "WHERE substr(source, 1, ?) = ? ORDER BY id", (len(base), base))
    stored = cur.fetchall()
    bad = 0
    if len(stored) != len(written):
        print("FAIL: %d rows written, %d stored" % (len(written), len(stored)))
        return 1
    for i, (w, (kind, row, seconds, fwd_s, fwdbwd_s, act, oom)) in enumerate(zip(written, stored), 1):
        s = json.loads(row)
        cols = {"seconds": seconds, "fwd_s": fwd_s, "fwdbwd_s": fwdbwd_s, "act_bytes": act}
        for k, v in w.items():
            if k == "gpu" and gpu:
                v = gpu
            if s.get(k) != v or type(s.get(k)) is not type(v):
                print("FAIL: row %d (%s): member %s written %r, read back %r" % (i, kind, k, v, s.get(k)))
                bad += 1
            if k in COLUMNS and cols[COLUMNS[k]] != v:
                print("FAIL: row %d (%s): column %s holds %r, written %s %r" % (i, kind, COLUMNS[k],
                                                                              cols[COLUMNS[k]], k, v))
                bad += 1
        if kind != w["kind"] or bool(oom) != bool(w.get("oom")):
            print("FAIL: row %d: kind/oom %s/%s read back as %s/%s" % (i, w["kind"], w.get("oom"), kind, oom))
            bad += 1
    missing = [k for k in kinds.split(",") if k and k not in {w["kind"] for w in written}]
    if missing:
        print("FAIL: no rows of kind %s" % ", ".join(missing))
        bad += 1
    print("%s: %d rows of %d kinds read back %s" % (os.path.basename(path), len(written),
                                                    len({w["kind"] for w in written}),
                                                    "equal" if not bad else "with %d differences" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
