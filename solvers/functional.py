r"""A functional JAX solve: ``linear_solve`` under ``jax.jit``, ``jax.vmap`` and ``jax.grad``.

:func:`linear_solve` solves ``A x = b`` on JAX arrays with a Krylov kernel of
:mod:`solvers.jaxkrylov` and returns a :class:`JaxSolution` pytree, so it can be called
inside jitted, vmapped and differentiated functions (the operator may be built from traced
values: ``diffusion_stencil(K)`` with ``K`` a tracer). Derivatives are implicit
(``jax.lax.custom_linear_solve``): with ``x = A^{-1} b``,

.. math:: \dot x = A^{-1} (\dot b - \dot A x), \qquad
          \bar b = A^{-T} \bar x, \qquad \bar\theta = -\lambda^T \frac{\partial A}{\partial
          \theta} x \ \text{ with } \lambda = \bar b,

where the adjoint solve uses the same method and preconditioner (its transpose, for
GMRES/BiCGStab; CG/FCG take ``A`` and ``M`` symmetric), and the parameter term is the VJP of
the matrix-vector product with respect to the operator's arrays, so no derivative is ever
taken through the iteration. The preconditioner is not differentiated (it only changes how
fast the solves converge). Each solve (forward, tangent, adjoint) stops when
``||r|| <= max(rtol ||rhs||, atol)`` for its own right-hand side; ``converged`` is the test
``||b - A x|| <= max(rtol ||b||, atol)`` on the true residual of the returned ``x``.

Precision follows :func:`solvers.solve`: jax arrays (and everything under ``jit``, ``vmap``
and ``grad``, where the arguments are tracers) are solved in ``b``'s precision; NumPy float64
(complex128) input called eagerly is solved in float64 under ``jax.enable_x64(True)`` as a
context, whatever JAX's global ``jax_enable_x64`` says, and comes back as NumPy. A single
precision solve asked for ``rtol < 4 eps`` of its precision warns (:class:`RuntimeWarning`)
when ``rtol`` is a concrete number; one called eagerly whose kernel met its own test while
the true residual misses ``rtol`` warns after the solve; either way
:meth:`JaxSolution.reason` then says ``"precision"``.

One program per (method, options, operator/preconditioner structure, shapes, dtypes):
new values of ``b``, ``x0``, the operator's arrays (a new ``K``), ``rtol``, ``atol`` and
``maxiter`` reuse it (:func:`solvers.backends.jax.compile_count` counts the traces). The
non-functional :func:`solvers.solve` is unchanged; this is the entry point for JAX code.

References
----------
.. [1] P. Kidger et al., lineax (``lineax.linear_solve``), 2023.
.. [2] JAX, ``jax.lax.custom_linear_solve``.

Examples
--------
>>> import jax, jax.numpy as jnp
>>> from operators.stencils import diffusion_stencil
>>> from solvers import linear_solve
>>> K = jnp.ones((8, 8)); b = jnp.ones(64)
>>> loss = lambda K: jnp.sum(linear_solve(diffusion_stencil(K), b, rtol=1e-6).x)
>>> jax.grad(loss)(K).shape
(8, 8)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.sparse import BCOO

from operators.stencils import Stencil
from solvers import registry
from solvers.backends.jax.compile import traced
from solvers.backends.jax.operators import Jacobi, MatrixOperator
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.jaxkrylov.loop import CONVERGED, reason
from solvers.multigrid import multigrid
from solvers.reasons import Reason
from solvers.result import is_single

__all__ = ["JaxSolution", "linear_solve"]


class JaxSolution(NamedTuple):
    """What :func:`linear_solve` returns (a pytree; batched fields under ``jax.vmap``).

    Attributes
    ----------
    x
        The solution, shaped and typed like ``b``.
    converged
        ``||b - A x|| <= max(rtol ||b||, atol)`` on the true residual (bool array).
    iterations
        Iterations of the forward solve (Arnoldi steps for GMRES).
    residual_norm
        ``||b - A x||`` in the working precision.
    code
        The kernel's status code (:mod:`solvers.jaxkrylov.loop`); :meth:`reason` reads it.

    Leaves are jax arrays, or NumPy arrays for NumPy float64 input solved eagerly.
    """

    x: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual_norm: jax.Array
    code: jax.Array

    def reason(self) -> Reason:
        """Why the solve stopped (outside ``jit``; for an unbatched solution): ``precision``
        when a single-precision kernel met its own test but the true residual fails."""
        if bool(self.converged):
            return Reason.RTOL
        code = int(self.code)
        if code != CONVERGED:
            return reason(code)
        return Reason.PRECISION if is_single(self.x.dtype) else Reason.INACCURATE


def linear_solve(operator: Any, b: jax.Array, *, method: str = "cg", pc: Any = None,
                 rtol: Any = 1e-5, atol: Any = 0.0, maxiter: Any = None,
                 x0: jax.Array | None = None, **options: Any) -> JaxSolution:
    r"""Solve ``A x = b`` in JAX; jittable, vmappable, differentiable in ``b`` and ``A``.

    Parameters
    ----------
    operator
        ``A``: a matrix-free :class:`operators.stencils.Stencil` (``poisson_stencil``,
        ``diffusion_stencil(K)``, whose arrays may be traced), a dense jax array, a ``BCOO``
        matrix, or a linear jittable callable ``x -> A x`` (a pytree such as an equinox
        Module to make its arrays runtime values; a plain function is part of the program).
    b
        Right-hand side, 1-D, of ``A``'s size; its dtype is the working precision. NumPy
        float64 input called outside ``jit``/``vmap``/``grad`` is solved in float64 whatever
        ``jax_enable_x64`` says (the solution's arrays are then NumPy).
    method
        A method with a JAX kernel: ``"cg"``, ``"fcg"`` (both assume ``A`` SPD),
        ``"gmres"``, ``"bicgstab"``.
    pc
        ``None``/``"none"``, ``"jacobi"`` (needs ``A``'s diagonal: a stencil or a matrix),
        ``"mg"`` (geometric multigrid V-cycle, :func:`solvers.multigrid.multigrid`; needs a
        stencil), or a jittable linear callable ``r -> z ~ A^{-1} r`` (a nonlinear one
        needs ``method="fcg"`` and is not transposable for ``grad`` of GMRES/BiCGStab).
    rtol, atol, maxiter
        Stop when ``||r|| <= max(rtol ||b||, atol)``, or after ``maxiter`` iterations
        (default ``10 n``); runtime values (changing them does not recompile). A concrete
        ``rtol`` below ``4 eps`` of a single working precision (``4.8e-7`` for float32)
        warns: float32 cannot reach it, turn on ``jax_enable_x64`` and pass float64 arrays.
    x0
        Initial guess (default zero); the solve runs on the correction ``A e = b - A x0``
        (so ``rtol`` is then relative to ``||b - A x0||``), and no derivative flows to it.
    **options
        The method's static options: ``restart`` (GMRES), ``truncation`` (FCG).

    Returns
    -------
    JaxSolution
        ``x``, ``converged``, ``iterations``, ``residual_norm``, ``code``.

    Raises
    ------
    InvalidOptionError
        An unknown method, pc or option, or a pc the operator cannot provide.
    InvalidSystemError
        ``b`` (or ``x0``) not 1-D of the operator's size.

    Warns
    -----
    RuntimeWarning
        ``rtol`` below what a single working precision can reach (see ``rtol``), or, for an
        eager call, a single-precision solve that ends short of ``rtol``.
    """
    if _host_float64(operator, b, x0):
        with jax.enable_x64(True):
            solution = _linear_solve(operator, b, method, pc, rtol, atol, maxiter, x0, options)
            return JaxSolution._make(np.asarray(leaf) for leaf in solution)  # NumPy leaves
    solution = _linear_solve(operator, b, method, pc, rtol, atol, maxiter, x0, options)
    _warn_missed(solution, rtol)
    return solution


def _linear_solve(operator: Any, b: Any, method: str, pc: Any, rtol: Any, atol: Any,
                  maxiter: Any, x0: Any, options: dict[str, Any]) -> JaxSolution:
    """:func:`linear_solve` in the precision that is current (see its docstring)."""
    op = _as_operator(operator)
    kernel, symmetric = _method(method, options)
    b = jnp.asarray(b)
    n = _size(op, b)
    if b.ndim != 1 or (n is not None and b.shape[0] != n):
        raise InvalidSystemError(
            f"b must be a 1-D array of the operator's size {n}, not shape {b.shape}; for "
            f"several right-hand sides use jax.vmap(lambda b: linear_solve(A, b))(B)"
        )
    if x0 is not None and jnp.shape(x0) != b.shape:
        raise InvalidSystemError(f"x0 must have b's shape {b.shape}, not {jnp.shape(x0)}")
    real = jnp.zeros((), b.dtype).real.dtype
    _warn_unreachable(rtol, real)
    limits = (jnp.asarray(rtol, real), jnp.asarray(atol, real),
              jnp.asarray(10 * b.shape[0] if maxiter is None else maxiter, jnp.int32))
    return _solve(kernel, tuple(sorted(options.items())), symmetric, op, _checked(pc, op), b,
                  x0, *limits)


@eqx.filter_jit
def _solve(kernel: str, options: tuple, symmetric: bool, op: Any, pc: Any, b: jax.Array,
           x0: jax.Array | None, rtol: jax.Array, atol: jax.Array,
           maxiter: jax.Array) -> JaxSolution:
    """The traced solve (one program per structure; see the module docstring)."""
    traced()
    run = registry.resolve(kernel)
    M = _preconditioner(pc, op, b.dtype)

    def matvec(v: jax.Array) -> jax.Array:
        return op(v).astype(b.dtype)

    def solver(preconditioner: Any) -> Callable:
        def solve(mv: Callable, rhs: jax.Array) -> tuple[jax.Array, tuple]:
            x, k, _, code = run(mv, rhs, jnp.zeros_like(rhs), preconditioner, rtol, atol,
                                maxiter, history=1, **dict(options))
            return x, (k, code)
        return solve

    start = None if x0 is None else jax.lax.stop_gradient(jnp.asarray(x0, b.dtype))
    rhs = b if start is None else b - matvec(start)
    x, (k, code) = jax.lax.custom_linear_solve(
        matvec, rhs, solver(M), None if symmetric else solver(_transpose(M, b)),
        symmetric=symmetric, has_aux=True)
    x = x if start is None else start + x
    rnorm = jax.lax.stop_gradient(jnp.linalg.norm(b - matvec(x)))
    converged = rnorm <= jnp.maximum(rtol * jnp.linalg.norm(jax.lax.stop_gradient(b)), atol)
    return JaxSolution(x, converged, k, rnorm, code)


def _host_float64(operator: Any, b: Any, x0: Any) -> bool:
    """Whether ``b`` is 64-bit host (NumPy) input outside any JAX transformation, to be solved
    in float64 under ``jax.enable_x64`` (:func:`solvers.solve`'s rule for NumPy input)."""
    if isinstance(b, jax.Array) or np.result_type(b) not in (np.float64, np.complex128):
        return False
    leaves = jax.tree_util.tree_leaves((operator, x0))
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves) and not _tracing()


def _tracing() -> bool:
    """Whether a ``jit``/``grad`` trace is under way (a new constant is then a tracer)."""
    return isinstance(jnp.zeros(()), jax.core.Tracer)


def _below_floor(rtol: Any, real: np.dtype) -> bool:
    """Whether a concrete ``rtol`` is below ``4 eps`` of a single working precision (the bound
    under which :mod:`solvers.finish` does not try refinement either)."""
    return (not isinstance(rtol, jax.core.Tracer) and is_single(real)
            and float(rtol) < 4 * float(np.finfo(real).eps))


def _warn_unreachable(rtol: Any, real: np.dtype) -> None:
    """Warn, before solving, when ``rtol`` is below what the working precision can reach."""
    if _below_floor(rtol, real):
        floor = 4 * float(np.finfo(real).eps)
        warnings.warn(
            f"rtol={float(rtol):g} is below what {np.dtype(real).name} can reach (4 eps = "
            f"{floor:.1e}): expect converged=False, reason 'precision'. Turn on "
            f"64-bit JAX (jax.config.update('jax_enable_x64', True), or the context "
            f"jax.enable_x64(True)) and pass float64 arrays, or use rtol >= {floor:.1e}",
            RuntimeWarning, stacklevel=4)


def _warn_missed(solution: JaxSolution, rtol: Any) -> None:
    """Warn after an eager single-precision solve whose kernel met its own test while the true
    residual misses ``rtol`` (:meth:`JaxSolution.reason` is then ``precision``); not under a
    transformation (the values are not known yet) nor when the warning came before the solve."""
    dtype = np.dtype(solution.x.dtype)
    if isinstance(solution.x, jax.core.Tracer) or not is_single(dtype) or _below_floor(rtol, dtype):
        return
    missed = jnp.any(~solution.converged & (solution.code == CONVERGED))
    if bool(missed):
        warnings.warn(
            f"the {dtype.name} solve met rtol={float(rtol):g} in its own recurrence, but the true "
            f"residual ||b - A x|| = {float(jnp.max(solution.residual_norm)):.3e} misses it: "
            f"converged=False, reason 'precision'. Turn on 64-bit JAX "
            f"(jax.config.update('jax_enable_x64', True)) and pass float64 arrays, or loosen "
            f"rtol", RuntimeWarning, stacklevel=3)


def _as_operator(operator: Any) -> Any:
    """A jittable ``x -> A x`` (a pytree where possible)."""
    if isinstance(operator, Stencil | MatrixOperator):
        return operator
    if isinstance(operator, BCOO | jax.Array | np.ndarray):
        if operator.ndim != 2 or operator.shape[0] != operator.shape[1]:
            raise InvalidSystemError(
                f"operator must be a square matrix, not shape {operator.shape}")
        return MatrixOperator(operator if isinstance(operator, BCOO) else jnp.asarray(operator))
    if callable(operator):
        return operator
    raise InvalidSystemError(
        f"operator must be an operators.stencils.Stencil, a square jax/NumPy array, a BCOO "
        f"matrix or a linear callable x -> A x, not {type(operator).__name__}; for an "
        f"operators.GridProblem p use operators.stencils.stencil(p)"
    )


def _size(op: Any, b: jax.Array) -> int | None:
    if isinstance(op, Stencil):
        return op.n
    if isinstance(op, MatrixOperator):
        return op.matrix.shape[0]
    return None


def _method(method: str, options: dict) -> tuple[str, bool]:
    """The kernel path of ``method`` and whether it assumes a symmetric operator."""
    entry = registry.lookup(method, "method")
    spec = entry.jax
    if spec is None or spec.kernel is None:
        with_kernel = [n for n in registry.names("method")
                       if (s := registry.lookup(n, "method").jax) is not None and s.kernel]
        raise InvalidOptionError(
            f"method {method!r} has no JAX kernel; linear_solve runs {', '.join(with_kernel)}")
    unknown = set(options) - set(spec.options)
    if unknown:
        raise InvalidOptionError(
            f"method {method!r} takes the options {', '.join(spec.options) or 'none'}, not "
            f"{', '.join(sorted(unknown))}")
    return spec.kernel, entry.requires_symmetric


def _checked(pc: Any, op: Any) -> Any:
    """``pc`` if ``op`` can provide it (a name or a callable), else an error that says why."""
    if pc is None or callable(pc) or pc == "none":
        return pc
    if pc == "jacobi" and not hasattr(op, "diagonal"):
        raise InvalidOptionError(
            "pc='jacobi' needs the operator's diagonal: pass a Stencil or a matrix, or "
            "pass pc=lambda r: r / diagonal yourself")
    if pc == "mg" and not isinstance(op, Stencil):
        raise InvalidOptionError(
            "pc='mg' needs a matrix-free operators.stencils.Stencil (poisson_stencil, "
            f"diffusion_stencil), not {type(op).__name__}; use pc='jacobi' or a callable")
    if pc not in ("jacobi", "mg"):
        raise InvalidOptionError(
            f"pc must be None, 'none', 'jacobi', 'mg' or a jittable callable r -> z, not "
            f"{pc!r}")
    return pc


def _preconditioner(pc: Any, op: Any, dtype: Any) -> Any:
    """``M`` as a pytree callable (None for none), built inside the traced solve."""
    if pc is None or callable(pc) or pc == "none":
        return None if pc == "none" else pc
    if pc == "jacobi":
        return Jacobi((1 / op.diagonal()).astype(dtype))
    return multigrid(op)


def _transpose(M: Any, b: jax.Array) -> Any:
    """``M^T`` for the adjoint solve: ``M`` itself when symmetric, else by JAX's transpose
    of a linear function."""
    if M is None or getattr(M, "symmetric", False):
        return M

    def transposed(r: jax.Array) -> jax.Array:
        return jax.linear_transpose(M, jax.ShapeDtypeStruct(b.shape, b.dtype))(r)[0]

    return transposed
