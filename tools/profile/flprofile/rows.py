"""Measured-row output for flotilla-profile: the row identity used to resume, and a writer that
never leaves a half-written file (fresh runs go to FILE.part and are renamed on success; resumed
runs append complete lines only)."""

import json
import os
import sys

# The members that identify a measurement of each kind (besides kind, gpu and device): a row whose
# key is already in the output file is not measured again.
KEY_MEMBERS = {
    "gemm": ("m", "n", "k", "dtype"),
    "memcpy_d2d": ("bytes",),
    "layer": ("h", "a", "kv_heads", "ffn", "activation", "s", "b", "tp", "dtype", "attention", "recompute"),
    "embedding": ("vocab", "h", "positional", "s", "b", "tp", "dtype"),
    "lm_head_loss": ("vocab", "h", "s", "b", "tp", "dtype"),
    "optimizer_step": ("params", "optimizer", "impl", "param_dtype"),
    "allreduce": ("bytes", "gpus"),
    "allgather": ("bytes", "gpus"),
    "p2p": ("bytes", "gpus"),
    "train_iter": ("model", "layers", "h", "s", "b", "grad_accum", "recompute", "framework"),
    "prefill": ("model", "layers", "h", "engine", "b", "prompt", "tp"),
    "decode_step": ("model", "layers", "h", "engine", "batch", "context", "tp"),
}


def row_key(row):
    """Identity of a measured row: kind, gpu, device and the kind's shape members."""
    kind = row.get("kind")
    members = KEY_MEMBERS.get(kind, ())
    return json.dumps([kind, row.get("gpu"), row.get("device", "cuda")] + [row.get(k) for k in members])


class RowWriter:
    """Append rows to the output.  `path` exists: resume (its complete lines are kept, a torn last
    line from an interrupted run is cut off, their keys are skipped).  `path` absent: rows go to
    `path`.part (itself resumed when an interrupted run left it) and finish() renames it."""

    def __init__(self, path, fresh=False):
        self.path = path
        self.part = path + ".part"
        self.keys = set()
        self.last_env = None
        self.count = 0
        if fresh:
            for p in (self.part,):
                if os.path.exists(p):
                    os.remove(p)
            self.target = self.part
            self.resuming = False
        elif os.path.exists(path):
            self.target = path
            self.resuming = True
        else:
            self.target = self.part
            self.resuming = os.path.exists(self.part)
        if self.resuming:
            self._load(self.target)
        self.f = open(self.target, "a", encoding="utf-8")

    def _load(self, path):
        with open(path, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):          # a torn line from an interrupted run: cut it off
            with open(path, "r+b") as f:
                f.truncate(end)
            data = data[:end]
        for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise SystemExit("flotilla-profile: %s line %d is not JSON; not resuming into it (use --fresh or "
                                 "another -o)" % (path, n))
            if row.get("kind") == "env":
                self.last_env = row
            else:
                self.keys.add(row_key(row))

    def done(self, ident):
        """True when a row with this identity is already in the file."""
        return row_key(ident) in self.keys

    def write(self, row):
        """Write one complete line and flush it (a crash never leaves half a row behind)."""
        if row.get("kind") == "env":
            if row == self.last_env:
                return
            self.last_env = dict(row)
        else:
            self.keys.add(row_key(row))
            self.count += 1
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()

    def finish(self):
        """Close; a fresh run's FILE.part becomes FILE."""
        self.f.close()
        if self.target == self.part:
            os.replace(self.part, self.path)

    def abandon(self, why):
        """Close after a failure; say where the rows measured so far are kept."""
        self.f.close()
        if self.target == self.part and not self.resuming and self.count == 0:
            os.remove(self.part)          # nothing measured: leave nothing behind
            sys.stderr.write("flotilla-profile: %s; nothing written\n" % why)
            return
        sys.stderr.write("flotilla-profile: %s; %d rows of this run kept in %s, run the same command again to resume\n"
                         % (why, self.count, self.target))
