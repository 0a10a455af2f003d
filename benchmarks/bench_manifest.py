"""Manifest writes shared by several runs: duplicates and cost, the locking writer vs the plain append peer.

Runs N writer processes at once on one manifest, each writing the same R records (what two annotate runs
on one folder do), and prints, per writer kind: lines in the file, distinct ids, wall seconds, and records
per second. The peer is the writer before locking (read ids once at open, then append): the floor of the
cost, and the duplicates it leaves.

    python benchmarks/bench_manifest.py --records 500 --procs 1 --procs 4
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent('''
    import json, os, sys
    kind, path, records = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "locking":
        from avshooter.io.output import ManifestWriter
    else:
        class ManifestWriter:  # the pre-lock writer: ids read once at open, then plain appends (+ fsync)
            def __init__(self, path):
                self.path, self.ids = path, set()
                if os.path.exists(path):
                    self.ids = {json.loads(l)["id"] for l in open(path, encoding="utf-8") if l.strip()}
            def write(self, rec):
                if rec["id"] in self.ids:
                    return False
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\\n"); f.flush(); os.fsync(f.fileno())
                self.ids.add(rec["id"])
                return True
    w = ManifestWriter(path)
    sys.stdin.readline()
    for i in range(records):
        w.write({"id": f"video/{i:05d}", "pid": os.getpid(), "audio": {"mix": f"video/audio/{i:05d}/mix.flac"}})
''')


def run(kind: str, procs: int, records: int, workdir: Path) -> dict:
    path = workdir / f"{kind}-{procs}.jsonl"
    path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, kind, str(path), str(records)], stdin=subprocess.PIPE,
                                 text=True, env=env) for _ in range(procs)]
    time.sleep(2.0)  # every child has imported and opened the manifest
    t0 = time.perf_counter()
    for c in children:
        c.stdin.write("go\n")
        c.stdin.flush()
    for c in children:
        c.communicate()
    wall = time.perf_counter() - t0
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    return {"kind": kind, "procs": procs, "lines": len(ids), "distinct": len(set(ids)), "wall_s": wall,
            "rec_per_s": procs * records / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--procs", type=int, action="append")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.gettempdir()) / "avshooter-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [run(kind, n, args.records, workdir) for n in (args.procs or [1, 4]) for kind in ("plain", "locking")]
    print(f"{'writer':<8} {'procs':>5} {'lines':>6} {'distinct':>8} {'wall s':>7} {'offered/s':>9} {'vs plain':>8}")
    base = {r["procs"]: r["wall_s"] for r in rows if r["kind"] == "plain"}
    for r in rows:
        print(f"{r['kind']:<8} {r['procs']:>5} {r['lines']:>6} {r['distinct']:>8} {r['wall_s']:>7.2f} "
              f"{r['rec_per_s']:>9.0f} {r['wall_s'] / base[r['procs']]:>7.2f}x")


if __name__ == "__main__":
    main()
