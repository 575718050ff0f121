"""Parameter fuzz: every declared parameter of every registered method and preconditioner.

For every entry of :func:`solvers.registry.entries` (built-in and plugin) and every parameter
it declares (:mod:`solvers.params`), ``solve(p, p.b, method=..., pc=..., **{name: value})``
runs on a small system that suits the entry (the SPD 2D Poisson ``operators.poisson((8,
8))``, a grid problem, so DCDM gets its grid too) with the bad values of :data:`BAD`
(negative, zero, NaN, +-inf, a string, 10**12, a list, a dict, ``None``, ``True``) and some
valid ones (:func:`valid_samples`). Then ``method="auto"``: every parameter of the entries
``auto`` may pick (:data:`solvers.auto.CANDIDATES`), on an SPD and a nonsymmetric system,
below ``AUTO_DIRECT_MAX_N`` and above it (lowered to 16, with ``maxiter=1`` so that every
fallback runs). Unknown names (``foo=1``, ``maxit=5``) on every path.

Each call must return a :class:`~solvers.SolveResult` or raise a
:class:`~solvers.errors.SolverError`. A value that the declaration refuses must raise
:class:`~solvers.errors.InvalidOptionError` naming the parameter, and so must ``Solver(...)``
with it, before a matrix is seen (so before anything is built); an unknown name likewise.
Counted against that: *raw* (any other exception, or a declared-invalid value that was not
refused up front), *hangs* (a call over :data:`TIME_LIMIT` seconds, cut by ``SIGALRM``) and
*crashes* (the interpreter dies: the sweep runs in a subprocess whose exit code is checked,
so an abort inside SuperLU is a failure that names the last call).

The figures count one *call* per value tried (a refused value is tried through both
``Solver(...)`` and ``solve(...)``). Valid values run on the first installed backend of the
entry (SciPy, then PETSc, then JAX); with none installed they are skipped, and the table
says so. ``python tests/solvers/test_params_fuzz.py`` prints the figures as a table.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

#: Seconds one call may take (a tiny system: anything slower is a hang).
TIME_LIMIT = 10
#: Seconds the whole sweep may take before it counts as hung (the last call is named).
SWEEP_LIMIT = 600
#: Bad values tried for every parameter (those a declaration accepts run as valid values).
BAD = (-1, 0, math.nan, math.inf, -math.inf, "bogus", 10**12, [1, 2], {"a": 1}, None, True)
#: Names no entry declares: refused on every path.
UNKNOWN = {"foo": 1, "maxit": 5}
#: Valid values of parameters whose kind (``"any"``) says nothing about them, and values that
#: pass the declaration's type check but are wrong in substance (they must end in a
#: SolverError, e.g. a missing weight file).
SAMPLES: dict[str, tuple[Any, ...]] = {
    "strength": ("classical", ("symmetric", {"theta": 0.1}), ("symmetric", {"bogus": 1})),
    "aggregate": ("naive",),
    "smooth": ("energy", None, ("jacobi", {"omega": 4 / 3})),
    "presmoother": ("jacobi", ("gauss_seidel", {"iterations": 10**12})),
    "postsmoother": ("gauss_seidel", ("gauss_seidel", {"sweep": "bogus"})),
    "model": ("fixed", "/nonexistent/model.eqx"),
    "shape": ((8, 8), (4, 16), (9, 9)),
    "omegas": ([1.2, 1.5], [0.5 + 0.001 * k for k in range(1000)]),
    "learner": ("tsallis", "chebcb"),
    "context": ("dominance", "shift", None),
    "bins": ((0.0, 1.0, 2), "quantile", [0.0, 0.5, 1.0]),
    "cost_scale": ("mean", 100, None),
    "learner_options": ({"rounds_per_bin": 2}, {"degree": 32}, {"start": 999}, {"jump": 1000},
                        {}),
    "resume": ("/nonexistent/state.json",),
}
#: The method a preconditioner is tried under (default ``"cg"``; the system is SPD).
PC_METHOD = {"ilu": "gmres", "dcdm": "fcg"}
SOLVE = {"rtol": 1e-6, "maxiter": 200}
BACKENDS = ("scipy", "petsc", "jax")
SPD_N = 64  # operators.poisson((8, 8))


class Hang(BaseException):
    """Raised by the alarm in a call that ran over :data:`TIME_LIMIT` (not an ``Exception``,
    so no handler in the library swallows it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang


def available(backend: str) -> bool:
    """Whether ``backend``'s package is installed (SciPy always is)."""
    module = {"scipy": "scipy", "petsc": "petsc4py", "jax": "jax"}[backend]
    return importlib.util.find_spec(module) is not None


def refuses(param: Any, value: Any) -> bool:
    """Whether the declaration ``param`` refuses ``value``."""
    from solvers.errors import InvalidOptionError

    try:
        param.check(value, "fuzz")
    except InvalidOptionError:
        return True
    return False


def _distinct(values: list[Any]) -> list[Any]:
    seen, out = set(), []
    for value in values:
        key = (type(value).__name__, repr(value))
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def valid_samples(param: Any, cheap: bool = True) -> list[Any]:
    """The default, the ends of a closed range (the upper only for ``cheap`` entries: a
    compiled setup per value costs seconds), a midpoint of an open one, every choice, both
    booleans, and :data:`SAMPLES`."""
    samples = [param.default]
    if param.kind in ("int", "float"):
        low, high = param.low, param.high
        if low is not None and not param.open_low:
            samples.append(int(low) if param.kind == "int" else low)
        if cheap and high is not None and not param.open_high and math.isfinite(high):
            samples.append(int(high) if param.kind == "int" else high)
        if low is not None and high is not None and (param.open_low or param.open_high):
            inside = [low + (high - low) * t for t in (0.25, 0.5, 0.75)]
            samples += inside if param.kind == "float" else [int(low) + 1]
    elif param.kind == "choice":
        samples += list(param.choices)
    elif param.kind == "bool":
        samples += [True, False]
    samples += SAMPLES.get(param.name, ())
    return _distinct([v for v in samples if not refuses(param, v)])


class Sweep:
    """Runs the calls and counts their outcomes, per row (entry or auto system)."""

    def __init__(self) -> None:
        self.rows: dict[str, Counter] = {}
        self.raw: list[str] = []
        self.hangs: list[str] = []
        self.skipped: list[str] = []
        self.fallbacks = 0

    def _count(self, row: str, outcome: str) -> None:
        self.rows.setdefault(row, Counter())[outcome] += 1
        self.rows[row]["calls"] += 1

    def _timed(self, label: str, call: Callable[[], Any]) -> tuple[str, Any]:
        """``("result"|"error"|"raw"|"hang", value)`` of ``call()``, cut at TIME_LIMIT."""
        from solvers import SolveResult
        from solvers.errors import SolverError

        print(f"CALL {label}", flush=True)
        signal.alarm(TIME_LIMIT)
        start = time.perf_counter()
        try:
            value = call()
            outcome = "result" if isinstance(value, SolveResult) else "raw"
        except Hang:
            value, outcome = None, "hang"
        except SolverError as exc:
            value, outcome = exc, "error"
        except Exception as exc:  # noqa: BLE001 (a raw exception is what is counted)
            value, outcome = exc, "raw"
        finally:
            signal.alarm(0)
        if outcome == "result" and time.perf_counter() - start > TIME_LIMIT:
            outcome = "hang"
        return outcome, value

    def valid(self, row: str, label: str, call: Callable[[], Any]) -> None:
        """A call that must return a SolveResult or raise a SolverError."""
        outcome, value = self._timed(label, call)
        if outcome == "raw":
            self.raw.append(f"{label}: {type(value).__name__}: {value}")
        elif outcome == "hang":
            self.hangs.append(f"{label}: over {TIME_LIMIT} s")
        elif outcome == "result" and len((value.info.get("auto") or {}).get("tried", ())) > 0:
            self.fallbacks += 1
        self._count(row, {"result": "ok", "error": "solver_error"}.get(outcome, outcome))

    def invalid(self, row: str, label: str, name: str, calls: list[Callable[[], Any]]) -> None:
        """Calls that must each raise InvalidOptionError naming ``name`` (one count)."""
        from solvers.errors import InvalidOptionError

        outcome = "refused"
        for call in calls:
            got, value = self._timed(label, call)
            if got == "hang":
                outcome = "hang"
                self.hangs.append(f"{label}: over {TIME_LIMIT} s")
            elif not (isinstance(value, InvalidOptionError) and name in str(value)):
                outcome = "raw"
                what = "no error" if value is None or got == "result" else \
                    f"{type(value).__name__}: {value}"
                self.raw.append(f"{label}: declared invalid, not refused up front ({what})")
                break
        self._count(row, outcome)


def _system(kind: str) -> Any:
    import operators

    if kind == "spd":
        return operators.poisson((8, 8))
    return operators.convection_diffusion((8, 8), (40.0, 10.0))


def _backend(entries: list[Any]) -> str | None:
    """The first installed backend every entry runs on (SciPy, then PETSc, then JAX)."""
    return next((b for b in BACKENDS if all(b in e.backends for e in entries) and available(b)),
                None)


def sweep_entry(sweep: Sweep, entry: Any) -> None:
    """Every declared parameter of ``entry``, bad and valid values, and the unknown names."""
    from solvers import Solver, registry, solve

    method, pc = (entry.name, None) if entry.kind == "method" else (
        PC_METHOD.get(entry.name, "cg"), entry.name)
    entries = [registry.lookup(method)] + ([entry] if pc else [])
    backend = _backend(entries)
    row = entry.label()
    p = _system("spd")
    # refusal needs no backend: with none installed, "auto" reaches the same validation
    refuse_on = backend or "auto"
    cheap = entry.jax is None or not entry.jax.delegate  # a delegate compiles per value
    if backend is None:
        sweep.skipped.append(f"{row}: valid values skipped, no installed backend among "
                             f"{'/'.join(entry.backends)}")
    tries = [(name, value) for name, value in UNKNOWN.items()]
    for param in entry.params:
        tries += [(param.name, v) for v in _distinct([*BAD, *valid_samples(param, cheap)])]
    declared = {param.name: param for param in entry.params}
    for name, value in tries:
        label = f"{row} [{method}+{pc}] {name}={value!r:.40}"
        kwargs = {name: value}
        if name not in declared or refuses(declared[name], value):
            sweep.invalid(row, label, name, [
                partial(Solver, method, pc, backend=refuse_on, **kwargs),
                partial(solve, p, p.b, method, pc, backend=refuse_on, **SOLVE, **kwargs)])
        elif backend is not None:
            sweep.valid(row, label, partial(solve, p, p.b, method, pc, backend=backend,
                                            **SOLVE, **kwargs))


def sweep_auto(sweep: Sweep) -> None:
    """``method="auto"``: the parameters of every entry it may pick, below and above
    ``AUTO_DIRECT_MAX_N`` (lowered, so that CG+AMG / GMRES+ILU and the fallbacks run)."""
    from solvers import auto, registry

    params: dict[str, list[Any]] = {}
    for kind, name in auto.CANDIDATES:
        for param in registry.lookup(name, kind).params:
            params.setdefault(param.name, []).append(param)
    saved = auto.AUTO_DIRECT_MAX_N
    try:
        for limit, maxiter in ((saved, 200), (16, 1)):
            auto.AUTO_DIRECT_MAX_N = limit
            for kind in ("spd", "nonsymmetric"):
                _sweep_auto_system(sweep, params, kind, limit, maxiter)
    finally:
        auto.AUTO_DIRECT_MAX_N = saved


def _sweep_auto_system(sweep: Sweep, params: dict[str, list[Any]], kind: str, limit: int,
                       maxiter: int) -> None:
    """Bad, valid and unknown parameters of ``auto`` on one system."""
    from solvers import Solver, solve

    p = _system(kind)
    row = f"auto ({kind}, n={p.n} {'<=' if p.n <= limit else '>'} {limit})"
    tries = list(UNKNOWN.items())
    for name, declared in params.items():
        values = [*BAD] + [v for param in declared for v in valid_samples(param)]
        tries += [(name, v) for v in _distinct(values)]
    for name, value in tries:
        label = f"{row} {name}={value!r:.40}"
        kwargs = {name: value, "rtol": 1e-6, "maxiter": maxiter}
        if name not in params or any(refuses(q, value) for q in params[name]):
            sweep.invalid(row, label, name, [partial(Solver, **kwargs),
                                             partial(solve, p, p.b, **kwargs)])
        else:
            sweep.valid(row, label, partial(solve, p, p.b, **kwargs))


def run_sweep() -> dict[str, Any]:
    """The whole sweep, in this process; the figures as plain data."""
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _on_alarm)
    from solvers import registry

    sweep = Sweep()
    entries = registry.entries()
    for entry in entries:
        sweep_entry(sweep, entry)
    sweep_auto(sweep)
    return {"rows": {k: dict(v) for k, v in sweep.rows.items()}, "raw": sweep.raw,
            "hangs": sweep.hangs, "skipped": sweep.skipped, "fallbacks": sweep.fallbacks,
            "entries": [e.label() for e in entries]}


def totals(figures: dict[str, Any], crashes: int = 0) -> dict[str, int]:
    """Calls, raw exceptions, hangs and crashes over every row."""
    total = Counter()
    for counts in figures["rows"].values():
        total.update(counts)
    return {"calls": total["calls"], "refused": total["refused"], "ok": total["ok"],
            "solver_error": total["solver_error"], "raw": total["raw"],
            "hangs": total["hang"], "crashes": crashes}


def table(figures: dict[str, Any], crashes: int = 0) -> str:
    """The figures as a text table: one row per entry / auto system, then the totals."""
    columns = ("calls", "refused", "ok", "solver_error", "raw", "hang")
    width = max(len(row) for row in figures["rows"]) + 2
    lines = [f"{'entry':<{width}}" + "".join(f"{c:>13}" for c in columns)]
    for row, counts in figures["rows"].items():
        lines.append(f"{row:<{width}}" + "".join(f"{counts.get(c, 0):>13}" for c in columns))
    t = totals(figures, crashes)
    lines.append(f"{'total':<{width}}" + "".join(
        f"{t[c if c != 'hang' else 'hangs']:>13}" for c in columns))
    lines.append(f"calls {t['calls']}, raw exceptions {t['raw']}, hangs {t['hangs']}, crashes "
                 f"{crashes}; auto fallbacks reached in {figures['fallbacks']} calls")
    lines += [f"skipped: {s}" for s in figures["skipped"]]
    lines += [f"raw: {s}" for s in figures["raw"]]
    lines += [f"hang: {s}" for s in figures["hangs"]]
    return "\n".join(lines)


def run_in_subprocess() -> tuple[dict[str, Any] | None, int, str]:
    """Run the sweep in a child interpreter: ``(figures or None, crashes, diagnosis)``."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.run([sys.executable, __file__, "--json"], capture_output=True,
                              text=True, timeout=SWEEP_LIMIT, env=env, cwd=root)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err, code = "", "timeout"
    calls = [line for line in out.splitlines() if line.startswith("CALL ")]
    last = calls[-1][5:] if calls else "(none)"
    result = [line for line in out.splitlines() if line.startswith("FIGURES ")]
    if code != 0 or not result:
        return None, 1, (f"the sweep ended with exit code {code} after {len(calls)} calls; "
                         f"last call: {last}\nstderr tail:\n{err[-3000:]}")
    return json.loads(result[-1][8:]), 0, ""


def test_every_parameter_is_checked_before_setup(request: Any) -> None:
    figures, crashes, diagnosis = run_in_subprocess()
    assert figures is not None, diagnosis
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\nparameter fuzz:\n" + table(figures, crashes))
    t = totals(figures, crashes)
    assert (t["raw"], t["hangs"], t["crashes"]) == (0, 0, 0), "\n".join(
        figures["raw"] + figures["hangs"])
    swept = set(figures["rows"])  # every entry of a fresh interpreter, plugins included
    assert set(figures["entries"]) <= swept
    assert {"method 'dcdm'", "pc 'dcdm'", "method 'bandit-sor'", "pc 'bandit-ssor'"} <= swept
    assert t["refused"] > 0 and t["ok"] > 0 and figures["fallbacks"] > 0


def main(argv: list[str]) -> int:
    figures = run_sweep() if "--json" in argv else None
    if figures is not None:
        print("FIGURES " + json.dumps(figures), flush=True)
        return 0
    figures, crashes, diagnosis = run_in_subprocess()
    if figures is None:
        print(diagnosis)
        return 1
    print(table(figures, crashes))
    t = totals(figures, crashes)
    return int(bool(t["raw"] or t["hangs"] or t["crashes"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
