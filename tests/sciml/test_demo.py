"""The main job, ``python -m sciml demo``, runs and writes its table and plot: a grid of
readable panels, what ``auto`` chose named in the table and the CSV, a progress bar, no
warnings (at the smallest size too)."""

from __future__ import annotations

import csv
import subprocess
import sys

import matplotlib.image
import numpy as np

from sciml.demo import curves, overlaps


def test_demo_writes_table_and_plot(tmp_path):
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", "-m", "sciml", "demo",
                           "--n", "7", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "poisson2d 7^2" in proc.stdout and "rtol" in proc.stdout
    assert "auto -> direct" in proc.stdout  # what auto chose, in the table
    assert "demo: 100%" in proc.stderr and "Warning" not in proc.stderr
    image = matplotlib.image.imread(tmp_path / "convergence.png")
    height, width = image.shape[:2]
    assert width >= 1200 and height >= 0.45 * width  # a grid of panels, not one long row
    with (tmp_path / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 15 and all(row["converged"] == "True" for row in rows)
    assert {row["auto_chose"] for row in rows if row["method"] == "auto"} == {"direct"}


class _Case:
    def __init__(self, problem, label):
        self.problem, self.label = problem, label


class _Result:
    def __init__(self, residuals, method="cg"):
        self.residuals = np.asarray(residuals)
        self.info = {"method": method}


def test_overlapping_curves_are_named_in_the_legend():
    same = [1.0, 1e-3, 1e-6, 1e-9]
    rows = [(_Case("p", "dcdm"), _Result(same)),
            (_Case("p", "fcg+dcdm"), _Result(np.array(same) * 1.001)),
            (_Case("p", "cg"), _Result([1.0, 1e-1, 1e-2, 1e-9])),
            (_Case("p", "direct"), _Result([1.0, 1e-15], method="direct"))]
    labels = [text for text, _ in curves(rows, "p")]
    assert labels == ["dcdm", "fcg+dcdm (same curve as dcdm)", "cg"]
    assert not overlaps(np.array(same), np.array(same[:3]))
