"""``python -m sciml demo``: solve gallery problems with several methods; table + plots.

Built-in problems only (no downloads, no GPU). Writes ``convergence.png`` (one panel per
problem, in a grid) and ``results.csv`` to ``--out`` (default ``./sciml-out/``). The first
run compiles DCDM's JAX programs (tens of seconds, counted in its ``setup`` time); they are
kept in JAX's persistent compilation cache (:mod:`solvers.backends.jax.cache`), so later
runs load them.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import operators
from solvers import SolveResult, registry, solve
from solvers.errors import InvalidOptionError

#: The demo's tolerance on the true residual.
RTOL = 1e-8
#: Line styles and markers cycled through within a panel (with the colour cycle).
STYLES = [("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ("-", "v"), ("--", "P"),
          ("-.", "X"), (":", "*")]


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


def label(case: Case, res: SolveResult) -> str:
    """The case's label, with what ``auto`` chose (``"auto -> cg+amg"``)."""
    auto = res.info.get("auto")
    return f"{case.label} -> {auto['chose']}" if auto else case.label


def build_problems(n: int, seed: int) -> dict[str, operators.Problem]:
    """The demo's gallery: SPD, variable-coefficient SPD, nonsymmetric, indefinite, complex.

    Side lengths: ``n`` in 2D, ``max(4, n // 4)`` in 3D, ``max(4, n // 2)`` for Helmholtz.
    """
    n3, nh = max(4, n // 4), max(4, n // 2)
    return {
        f"poisson2d {n}^2": operators.poisson((n, n)),
        f"poisson3d {n3}^3": operators.poisson((n3,) * 3),
        f"diffusion2d {n}^2 (lognormal K)": operators.random_diffusion((n, n), seed=seed),
        f"conv-diff2d {n}^2": operators.convection_diffusion((n, n), velocity=(40.0, 20.0)),
        f"helmholtz2d {nh}^2 k=20": operators.helmholtz((nh, nh), k=20.0),
        f"helmholtz2d {nh}^2 k=20 damped (complex)": operators.helmholtz(
            (nh, nh), k=20.0, damping=0.1),
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
        rel = res.residual_norm / max(res.threshold / RTOL, 1e-300)
        print(f"{case.problem:<40} {label(case, res):<20} {res.iterations:>6} {rel:>9.2e} "
              f"{res.timings['setup']:>8.3f} {res.timings['solve']:>8.3f}  {res.reason.value}")


def curves(rows: list[tuple[Case, SolveResult]], problem: str) -> list[tuple[str, np.ndarray]]:
    """``(legend label, ||r_k|| / ||r_0||)`` of the iterative runs on ``problem``; a curve
    that would hide an earlier one (:func:`overlaps`) says so in its label."""
    drawn: list[tuple[str, np.ndarray]] = []
    for case, res in rows:
        if case.problem != problem or res.info.get("method") == "direct":
            continue
        history = res.residuals / res.residuals[0]
        text = label(case, res)
        twin = next((name for name, other in drawn if overlaps(other, history)), None)
        drawn.append((text if twin is None else f"{text} (same curve as {twin})", history))
    return drawn


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two histories would be drawn on top of each other: same length and within
    2% everywhere on the log scale.

    Examples
    --------
    >>> overlaps(np.array([1.0, 1e-3, 1e-6]), np.array([1.0, 1.01e-3, 0.99e-6]))
    True
    >>> overlaps(np.array([1.0, 1e-3]), np.array([1.0, 1e-2]))
    False
    """
    if a.shape != b.shape:
        return False
    tiny = np.finfo(float).tiny
    return bool(np.all(np.abs(np.log10(a + tiny) - np.log10(b + tiny)) < 0.01))


def not_drawn(rows: list[tuple[Case, SolveResult]], problem: str) -> list[str]:
    """Labels of the direct solves on ``problem`` (no iteration history to draw)."""
    return [label(case, res) for case, res in rows
            if case.problem == problem and res.info.get("method") == "direct"]


def plot(rows: list[tuple[Case, SolveResult]], path: Path) -> None:
    """One panel per problem in a grid of up to three columns; see :func:`curves`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    problems = list(dict.fromkeys(case.problem for case, _ in rows))
    ncols = min(3, len(problems))
    nrows = math.ceil(len(problems) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 6.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, problems, strict=False):
        for k, (text, history) in enumerate(curves(rows, name)):
            linestyle, marker = STYLES[k % len(STYLES)]
            twin = "same curve" in text  # drawn thinner, hollow markers: both stay visible
            ax.semilogy(history, linestyle=linestyle, marker=marker, label=text,
                        lw=1.0 if twin else 2.0, ms=8 if twin else 5,
                        mfc="none" if twin else None, markevery=max(1, history.size // 12),
                        color=f"C{k % 10}")
        ax.axhline(RTOL, color="black", lw=1.0, ls=(0, (4, 3)), label=f"tolerance rtol={RTOL:g}")
        skipped = not_drawn(rows, name)
        if skipped:
            ax.plot([], [], " ", label="no curve (direct): " + ", ".join(skipped))
        ax.set_title(name, fontsize=11)
        ax.set_xlabel("iteration")
        ax.set_ylabel("||r_k|| / ||r_0||")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                  frameon=False)  # below the panel: it never hides a curve
    for ax in axes.flat[len(problems):]:
        ax.set_visible(False)
    fig.suptitle(f"Convergence of the true residual (rtol = {RTOL:g}); "
                 f"'auto -> x' names what auto chose", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_csv(rows: list[tuple[Case, SolveResult]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["problem", "method", "auto_chose", "iterations", "residual_norm",
                         "threshold", "setup_s", "solve_s", "converged", "reason"])
        for case, res in rows:
            auto = res.info.get("auto")
            writer.writerow([case.problem, case.label, auto["chose"] if auto else "",
                             res.iterations, res.residual_norm, res.threshold,
                             res.timings["setup"], res.timings["solve"], res.converged,
                             res.reason.value])


def check_out(out: Path) -> Path:
    """``--out`` must be a directory or not exist yet (checked before anything is written)."""
    if out.exists() and not out.is_dir():
        raise InvalidOptionError(f"--out {out} is a file; give a directory")
    return out


class _TqdmHandler(logging.Handler):
    """Log records printed above the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record))


def _announce_compilations() -> logging.Handler:
    """Enable JAX's persistent cache and show its first-compilation message during the run."""
    from solvers.backends.jax import cache

    cache.enable()
    handler = _TqdmHandler(logging.INFO)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    cache.LOGGER.addHandler(handler)
    cache.LOGGER.setLevel(logging.INFO)
    return handler


def run(args: argparse.Namespace) -> int:
    out = check_out(Path(args.out))
    start = time.perf_counter()
    problems = build_problems(args.n, args.seed)
    cases = build_cases(list(problems))
    handler = _announce_compilations()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        with tqdm(cases, desc="demo", unit="solve", disable=args.no_progress) as bar:
            for case in bar:
                bar.set_postfix_str(f"{case.problem}: {case.label}", refresh=True)
                rows.append((case, run_case(case, problems[case.problem], RTOL)))
    finally:
        handler.close()
        logging.getLogger("solvers.jax").removeHandler(handler)
    print_table(rows)
    plot(rows, out / "convergence.png")
    write_csv(rows, out / "results.csv")
    print(f"\nrtol = {RTOL:g} on the true residual; 'auto -> x': what auto chose; setup "
          f"includes JAX compilation on first use.\nwrote {out / 'convergence.png'} and "
          f"{out / 'results.csv'} ({time.perf_counter() - start:.1f} s)")
    return 0 if all(res.converged for _, res in rows) else 1


def _grid_side(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 4, not {text!r}") from None
    if value < 4:
        raise argparse.ArgumentTypeError(f"must be >= 4, not {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="solve gallery problems; print a table, plot",
                                   description=__doc__)
    parser.add_argument("--n", type=_grid_side, default=128,
                        help="grid points per axis of the 2D problems (>= 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random coefficient")
    parser.add_argument("--out", default="sciml-out", help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
