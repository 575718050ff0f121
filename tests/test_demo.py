"""The main job, ``python -m sciml demo``, runs and writes its table and plot."""

from __future__ import annotations

import csv
import subprocess
import sys


def test_demo_writes_table_and_plot(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml", "demo", "--n", "32", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "poisson2d 32^2" in proc.stdout and "rtol" in proc.stdout
    assert (tmp_path / "convergence.png").stat().st_size > 10_000
    with (tmp_path / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 15 and all(row["converged"] == "True" for row in rows)
