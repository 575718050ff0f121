"""``python -m sciml demo``: solve gallery problems with several methods; table + plots.

Built-in problems only (no downloads, no GPU). Writes ``convergence.png`` and
``results.csv`` to ``--out`` (default ``./sciml-out/``).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import operators
from solvers import SolveResult, registry, solve


@dataclass(frozen=True)
class Case:
    """One row of the demo: a problem name, a method and its keyword arguments."""

    problem: str
    method: str
    pc: str | None = None
    params: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.params)
        return f"{self.method}" + (f"+{self.pc}" if self.pc else "") + extra


def build_problems(n: int, seed: int) -> dict[str, operators.Problem]:
    """The demo's gallery: SPD, variable-coefficient SPD, nonsymmetric, indefinite, complex."""
    return {
        f"poisson2d {n}^2": operators.poisson((n, n)),
        f"poisson3d {n // 4}^3": operators.poisson((n // 4,) * 3),
        f"diffusion2d {n}^2 (lognormal K)": operators.random_diffusion((n, n), seed=seed),
        f"conv-diff2d {n}^2": operators.convection_diffusion((n, n), velocity=(40.0, 20.0)),
        f"helmholtz2d {n // 2}^2 k=20": operators.helmholtz((n // 2, n // 2), k=20.0),
        f"helmholtz2d {n // 2}^2 k=20 damped (complex)": operators.helmholtz(
            (n // 2, n // 2), k=20.0, damping=0.1),
    }


def build_cases(names: list[str]) -> list[Case]:
    spd, spd3, diff, cd, helm, cplx = names
    cases = [
        Case(spd, "auto"), Case(spd, "cg"), Case(spd, "cg", "icc"), Case(spd, "cg", "amg"),
        Case(spd, "cg", "ssor", (("omega", 1.5),)), Case(spd, "direct"),
        Case(spd3, "auto"), Case(spd3, "cg"), Case(spd3, "cg", "amg"),
        Case(diff, "auto"), Case(diff, "cg", "icc"), Case(diff, "fcg", "amg"),
        Case(cd, "auto"), Case(cd, "gmres", "ilu"), Case(cd, "bicgstab", "ilu"),
        Case(helm, "minres"), Case(helm, "direct"),
        Case(cplx, "gmres", "ilu"), Case(cplx, "direct"),
    ]
    if "dcdm" in registry.names("method"):
        for name in (spd, spd3, diff):
            last = max(i for i, case in enumerate(cases) if case.problem == name)
            cases[last + 1:last + 1] = [Case(name, "dcdm"), Case(name, "fcg", "dcdm")]
    return cases


def run_case(case: Case, problem: operators.Problem, rtol: float) -> SolveResult:
    return solve(problem, problem.b, case.method, case.pc, rtol=rtol, maxiter=20_000,
                 **dict(case.params))


def print_table(rows: list[tuple[Case, SolveResult]]) -> None:
    header = f"{'problem':<40} {'method':<20} {'iters':>6} {'rel.res':>9} " \
             f"{'setup s':>8} {'solve s':>8}  reason"
    print(header)
    print("-" * len(header))
    for case, res in rows:
        rel = res.residual_norm / max(res.threshold / _RTOL, 1e-300)
        print(f"{case.problem:<40} {case.label:<20} {res.iterations:>6} {rel:>9.2e} "
              f"{res.timings['setup']:>8.3f} {res.timings['solve']:>8.3f}  {res.reason.value}")


_RTOL = 1e-8


def plot(rows: list[tuple[Case, SolveResult]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = list(dict.fromkeys(case.problem for case, _ in rows))
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6))
    for ax, name in zip(np.atleast_1d(axes), problems, strict=True):
        for case, res in rows:
            if case.problem == name and res.residuals.size > 2:
                ax.semilogy(res.residuals / res.residuals[0], label=case.label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("iteration")
        ax.axhline(_RTOL, color="gray", lw=0.5, ls="--")
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("||r_k|| / ||r_0||")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_csv(rows: list[tuple[Case, SolveResult]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["problem", "method", "iterations", "residual_norm", "threshold",
                         "setup_s", "solve_s", "converged", "reason"])
        for case, res in rows:
            writer.writerow([case.problem, case.label, res.iterations, res.residual_norm,
                             res.threshold, res.timings["setup"], res.timings["solve"],
                             res.converged, res.reason.value])


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    problems = build_problems(args.n, args.seed)
    rows = [(case, run_case(case, problems[case.problem], _RTOL))
            for case in build_cases(list(problems))]
    print_table(rows)
    plot(rows, out / "convergence.png")
    write_csv(rows, out / "results.csv")
    print(f"\nrtol = {_RTOL:g} on the true residual; wrote {out / 'convergence.png'} and "
          f"{out / 'results.csv'} ({time.perf_counter() - start:.1f} s)")
    return 0 if all(res.converged for _, res in rows) else 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="solve gallery problems; print a table, plot")
    parser.add_argument("--n", type=int, default=128, help="grid points per axis (2D)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random coefficient")
    parser.add_argument("--out", default="sciml-out", help="output directory")
    parser.set_defaults(func=run)
