"""`--engine ray` with `--no-progress` prints no Ray Data progress: a captured run of the ray engine."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'avshooter[ray]')")

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
from avshooter.engine import run_ray

def double(row):
    return {"x": row["x"] * 2}

print(sorted(r["x"] for r in run_ray([{"x": 1}, {"x": 2}, {"x": 3}], double, workers=2)))
"""


def test_ray_data_progress_and_info_logs_stay_off_the_terminal(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RAY_ADDRESS": ""}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[2, 4, 6]"
    output = done.stdout + done.stderr
    # what Ray Data printed before (stdout not a terminal: progress as log lines, plus its execution plan)
    for noise in ("Running Dataset", "Total Progress", "Execution plan", "Starting execution",
                  "Progress bars disabled", "execution finished", "concurrency`` is deprecated"):
        assert noise not in output, (noise, output[-2000:])
    assert " INFO " not in output, output[-2000:]
