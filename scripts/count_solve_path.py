"""Count the code lines of the library that one host ``solve()`` runs through.

Traces ``solve(A, b, method="cg")`` on a small SPD system and lists every function of our
packages that ran (the method's own ``solve`` and what it calls apart), with its code
lines: lines of the function's source that are neither blank, comments nor its docstring
(a comprehension is part of its function, not counted again). The sum is the size of the
path a reader follows from ``solve()`` to the method and back (issue 27's figure). The
traced call is the first with its arguments, so their validation is on the path; imports
and registration are not (a warm-up solve with other arguments runs first). ``--steady``
traces a repeated call.

Usage: ``python scripts/count_solve_path.py [--method cg] [--list]``
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import textwrap
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solvers", "operators", "meshes", "sciml")


def code_lines(code: CodeType) -> int:
    """Non-blank, non-comment lines of a function's source, without its docstring."""
    try:
        source = textwrap.dedent(inspect.getsource(code))
    except (OSError, TypeError):
        return 0
    tree = ast.parse(source)
    function = tree.body[0]
    skip: set[int] = set()
    body = getattr(function, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant):
        skip |= set(range(body[0].lineno, body[0].end_lineno + 1))
    lines = source.splitlines()
    return sum(1 for i, line in enumerate(lines, 1)
               if i not in skip and line.strip() and not line.strip().startswith("#"))


def trace_solve(method: str, steady: bool) -> tuple[set[CodeType], set[CodeType]]:
    """The code objects of our packages that run during one solve (after a warm-up): on the
    path, and inside the method's own ``solve`` (the method and what it calls)."""
    from solvers import solve

    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    b = np.ones(50)
    solve(A, b, method=method, rtol=0.5)  # imports and registration are not the path
    if steady:
        solve(A, b, method=method)
    seen: set[CodeType] = set()
    inside: set[CodeType] = set()
    depth = [0]  # > 0 while the method's own solve runs: what it calls is the method's

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        path = Path(code.co_filename)
        ours = path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in PACKAGES
        method_solve = ours and code.co_name == "solve" and path.parts[-2] == "krylov"
        if event == "call" and ours and not code.co_name.startswith("<"):
            (inside if depth[0] or method_solve else seen).add(code)
        if method_solve:
            depth[0] += 1 if event == "call" else -1 if event == "return" else 0

    sys.setprofile(tracer)
    try:
        solve(A, b, method=method)
    finally:
        sys.setprofile(None)
    return seen, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="cg", help="method to solve with (default: cg)")
    parser.add_argument("--list", action="store_true", help="list the functions")
    parser.add_argument("--steady", action="store_true",
                        help="trace a repeated call (validated arguments cached)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    path_codes, method_codes = trace_solve(args.method, args.steady)
    path = sorted((f"{Path(c.co_filename).relative_to(ROOT)}:{c.co_name}", code_lines(c))
                  for c in path_codes)
    if args.list:
        for where, lines in path:
            print(f"{lines:5d}  {where}")
    files = {where.split(":")[0] for where, _ in path}
    print(f"solve(A, b, method={args.method!r}): {sum(n for _, n in path)} code lines in "
          f"{len(path)} functions of {len(files)} files (the method's own, with what it "
          f"calls: {sum(code_lines(c) for c in method_codes)})")


if __name__ == "__main__":
    main()
