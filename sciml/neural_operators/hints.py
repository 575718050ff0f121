r"""``pc="hints"``: a neural error operator alternating with a smoother (HINTS) as a Krylov pc.

One application maps a residual ``r`` to ``z ~ A^{-1} r`` by a two-level cycle whose coarse
"solver" is the error operator ``N`` of :mod:`sciml.neural_operators.error_operator`:

.. math:: z \leftarrow S^{\nu}(z; r) \text{ from } z = 0, \qquad
          z \leftarrow z + N(a, r - A z), \qquad z \leftarrow S^{\nu}(z; r),

with ``S(z; r) = z + omega D^{-1} (r - A z)`` one damped-Jacobi sweep, ``nu = sweeps``. The
smoother removes the rough error components, which the network (a fixed number of Fourier
modes) cannot represent; the network removes the smooth ones, on which relaxation stalls: the
hybrid iterative numerical transferable solver (HINTS) of Zhang et al. [1]_, used here as
the preconditioner of a flexible Krylov method [2]_ instead of as a stand-alone iteration.
``N`` is nonlinear in ``r`` (only positively homogeneous), so the host is ``method="fcg"``
(SPD, e.g. Darcy) or ``method="fgmres"`` (indefinite Helmholtz). The stopping rule and the
float64 verdict are the solver's: the pc only proposes directions. A network correction that
is not finite is dropped (the cycle is then smoother-only) and counted in
``HintsPreconditioner.dropped``; any other output, however poor, only costs iterations.

On a grid finer than the one the network was trained on (``metadata["grid"]``, 64^2 for the
shipped model) the network runs on its training grid: the residual and the coefficient
field are resampled onto it by ``R = diag(1 / colsum P) P^T`` and the correction comes back
by bilinear interpolation ``P`` (:func:`transfer`), a two-grid cycle whose coarse solver is
the network. Fed the fine residual directly, the network meets frequencies it never saw in
training and FCG stagnated (measured with a checkpoint of the shipped model's run and 2
sweeps: no convergence in 1,173 iterations at 128^2, against 214 for the smoother alone).

``model="none"`` runs the same cycle without the network (the smoother-alone baseline); a
path runs any trained error operator, such as one with random weights (the untrained
baseline of ``benchmarks/bench_neural_pc.py``).

>>> import operators
>>> from solvers import solve
>>> p = operators.family("darcy", 32, seed=5).sample(0)
>>> solve(p, method="fcg", pc="hints", rtol=1e-8).converged
True

On ``backend="jax"`` the name runs through the host pipeline (``info["delegated"]``); for
JAX's compiled FCG loop pass :func:`jax_preconditioner`, a jittable ``pc``:

>>> import jax, jax.numpy as jnp
>>> with jax.enable_x64(True):  # float64 vectors (the network stays float32)
...     M = jax_preconditioner(p)
...     solve(p, jnp.asarray(p.b), method="fcg", pc=M, backend="jax", rtol=1e-8).converged
True

References
----------
.. [1] E. Zhang, A. Kahana, A. Kopanicakova, E. Turkel, R. Ranade, J. Pathak, G. E.
   Karniadakis, "Blending neural operators and relaxation methods in PDE numerical solvers",
   Nature Machine Intelligence 6 (2024) 1303-1313.
.. [2] Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4) (2000);
   Y. Saad, "A flexible inner-outer preconditioned GMRES algorithm", SIAM J. Sci. Comput.
   14(2) (1993).
"""

from __future__ import annotations

import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.dcdm import stencil
from sciml.dcdm.context import grid_shape
from sciml.dcdm.register import check_arguments
from sciml.neural_operators import error_operator as eo
from sciml.neural_operators.register import PC_PARAMS
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.system import LinearSystem, as_system

__all__ = ["NO_NETWORK", "HintsPreconditioner", "JaxHints", "jax_preconditioner", "transfer"]

#: ``model=`` value for the smoother alone (same cycle, no network).
NO_NETWORK = "none"


class _Setup:
    """What one system needs: the matrix, its stencil bands, the smoother's weights, the
    network, its encoded coefficient channel and the grid transfers."""

    def __init__(self, system: LinearSystem, model: str | os.PathLike | None,
                 shape: Any, owner: str) -> None:
        matrix = system.matrix
        if matrix is None:
            raise InvalidSystemError(f"{owner} needs an assembled matrix (or an "
                                     f"operators.Problem), got a LinearOperator")
        if np.iscomplexobj(matrix.data):
            raise InvalidSystemError(f"{owner} supports real matrices only (the Helmholtz "
                                     f"family is real symmetric indefinite)")
        self.shape = grid_shape(system, shape, owner)
        if len(self.shape) != 2:
            raise InvalidOptionError(f"{owner}: the error operators are 2-D; the grid "
                                     f"{self.shape} is {len(self.shape)}-D")
        diagonal = np.asarray(matrix.diagonal(), np.float64)
        if np.any(diagonal == 0) or not np.all(np.isfinite(diagonal)):
            raise InvalidSystemError(f"{owner} needs a nonzero finite diagonal (Jacobi smoother)")
        self.matrix = sp.csr_matrix(matrix, dtype=np.float64)
        self.bands = stencil.bands_from_matrix(self.matrix, self.shape)
        self.inv_diag = 1.0 / diagonal
        self.op: eo.ErrorOperator | None = None
        if model is None or os.fspath(model) != NO_NETWORK:
            kind = getattr(system.problem, "kind", None)
            self.op = eo.load(model if model is not None else eo.default_model(kind, self.shape))
        self.a: np.ndarray | None = None
        self.transfers: tuple[np.ndarray, ...] | None = None
        self.net_shape = self.shape
        if self.op is None:
            return
        trained = tuple(int(g) for g in self.op.metadata.get("grid", self.shape))
        if any(g > t for g, t in zip(self.shape, trained, strict=True)):
            self.net_shape = trained
            self.transfers = transfer(self.shape, trained)
        a = self.op.encode(self.matrix, self.shape, eo.spacing_of(self.shape, system.problem))
        self.a = a if self.transfers is None else restrict(self.transfers, a[0])[None]
        if 2 * self.op.model.config.modes > min(self.net_shape):
            raise InvalidOptionError(
                f"{owner}: the error operator keeps {self.op.model.config.modes} Fourier modes "
                f"and needs a grid of at least {2 * self.op.model.config.modes} nodes per "
                f"axis, got {self.shape}")

    def module(self, omega: float, sweeps: int, dtype: Any = np.float32) -> JaxHints:
        """The cycle as a :class:`JaxHints` (needs a grid stencil)."""
        if self.bands is None:
            raise InvalidSystemError("the JAX HINTS cycle needs a symmetric 5-point grid "
                                     "stencil matrix (an operators grid problem)")
        bands = self.bands.astype(dtype)
        return JaxHints(
            jnp.asarray(bands.diagonal), tuple(jnp.asarray(u) for u in bands.upper),
            jnp.asarray((omega * self.inv_diag).reshape(self.shape), dtype),
            None if self.op is None else self.op.model,
            None if self.a is None else jnp.asarray(self.a, jnp.float32),
            None if self.transfers is None else tuple(jnp.asarray(t, dtype)
                                                      for t in self.transfers),
            1.0 if self.op is None else float(self.op.scaling.output_std), sweeps)


def _interpolation_1d(fine: int, coarse: int) -> np.ndarray:
    """Linear interpolation from ``coarse`` to ``fine`` interior nodes of ``[0, 1]`` (zero
    boundary values, node ``i`` at ``(i + 1) / (G + 1)``), a dense ``fine x coarse`` matrix."""
    t = (np.arange(1, fine + 1) / (fine + 1)) * (coarse + 1) - 1.0
    j = np.floor(t).astype(int)
    w = t - j
    P = np.zeros((fine, coarse))
    rows = np.arange(fine)
    for cols, vals in ((j, 1.0 - w), (j + 1, w)):
        keep = (cols >= 0) & (cols < coarse)
        P[rows[keep], cols[keep]] += vals[keep]
    return P


def transfer(fine: tuple[int, ...], coarse: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """``(Px, Py, Rx, Ry)``: bilinear prolongation ``P = Px (x) Py`` from ``coarse`` to
    ``fine`` on the unit square, and the restriction ``R = diag(1 / colsum P) P^T = Rx (x) Ry``
    (a weighted average; full weighting for factor 2) that resamples a fine field or residual
    onto the network's grid. Applied as ``Px E Py^T`` and ``Rx U Ry^T``."""
    Px, Py = _interpolation_1d(fine[0], coarse[0]), _interpolation_1d(fine[1], coarse[1])
    Rx, Ry = (P.T / np.where(P.sum(axis=0) > 0, P.sum(axis=0), 1.0)[:, None] for P in (Px, Py))
    return Px, Py, Rx, Ry


def restrict(transfers: tuple[Any, ...], u: Any) -> Any:
    """``R u`` for a fine grid field ``u`` (NumPy or JAX)."""
    return transfers[2] @ u @ transfers[3].T


def prolong(transfers: tuple[Any, ...], e: Any) -> Any:
    """``P e`` for a coarse grid field ``e`` (NumPy or JAX)."""
    return transfers[0] @ e @ transfers[1].T


class HintsPreconditioner:
    """Host ``pc="hints"``; ``setup`` returns a (nonlinear) ``LinearOperator``.

    For a grid stencil matrix the whole cycle is one compiled JAX function in float32
    (stencil sweeps, transfers, network); the Krylov method around it stays float64. For
    other matrices the sweeps are SciPy CSR products in float64 around the compiled network.

    Parameters
    ----------
    model
        Shipped error operator (``"darcy-error"``, ``"helmholtz-error"``), a model path (one
        trained by :mod:`~sciml.neural_operators.error_train` or
        :mod:`~sciml.neural_operators.cycle_train`), or ``"none"`` (smoother alone); default
        from the problem's kind.
    sweeps
        Damped-Jacobi sweeps before and after the network correction.
    omega
        Jacobi weight.
    shape
        Grid shape when ``A`` is a plain matrix.
    """

    requires_symmetric = False

    def __init__(self, model: str | os.PathLike | None = None, sweeps: int = 16,
                 omega: float = 2.0 / 3.0, shape: tuple[int, ...] | None = None) -> None:
        check_arguments(PC_PARAMS, "pc 'hints'",
                        {"model": model, "sweeps": sweeps, "omega": omega, "shape": shape})
        self.model, self.sweeps, self.omega, self.shape = model, sweeps, omega, shape
        self.dropped = 0
        self.applications = 0

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        """Load the network, encode the coefficient field and compile the cycle once."""
        s = _Setup(system, self.model, self.shape, "pc 'hints'")
        apply = self._compiled(s) if s.bands is not None else self._sparse(s)
        apply(np.zeros(system.n))  # compile now, not inside the first iteration
        self.dropped = self.applications = 0
        return spla.LinearOperator(s.matrix.shape, matvec=apply, dtype=np.float64)

    def _count(self, ok: bool) -> None:
        self.applications += 1
        self.dropped += not ok

    def _compiled(self, s: _Setup) -> Any:
        module, shape = s.module(self.omega, self.sweeps), s.shape
        params, static = eqx.partition(module, eqx.is_array)
        run = _jitted_cycle(static, s, self.sweeps)

        def apply(r: np.ndarray) -> np.ndarray:
            z, ok = run(params, jnp.asarray(np.reshape(r, shape), jnp.float32))
            self._count(bool(ok))
            return np.asarray(z, np.float64).ravel()

        return apply

    def _sparse(self, s: _Setup) -> Any:
        A, w, shape, T = s.matrix, self.omega * s.inv_diag, s.net_shape, s.transfers
        std = 1.0 if s.op is None else float(s.op.scaling.output_std)
        a = None if s.a is None else jnp.asarray(s.a)

        def apply(r: np.ndarray) -> np.ndarray:
            r = np.asarray(r, np.float64).ravel()
            z = _smooth(A, w, r, np.zeros_like(r), self.sweeps)
            ok = True
            if s.op is not None:
                res = (r - A @ z).reshape(s.shape)
                coarse = res if T is None else restrict(T, res)
                c = np.asarray(_CORRECTION(s.op.model, a, jnp.asarray(coarse.reshape(shape),
                                                                       jnp.float32), std))
                c = (c if T is None else prolong(T, c)).ravel()
                ok = bool(np.all(np.isfinite(c)))
                z = z + c if ok else z
            self._count(ok)
            return _smooth(A, w, r, z, self.sweeps)

        return apply

    def __repr__(self) -> str:
        return (f"HintsPreconditioner(model={self.model!r}, sweeps={self.sweeps}, "
                f"omega={self.omega:g})")


#: The network correction, jitted once per process (one trace per grid and model structure).
_CORRECTION = eqx.filter_jit(eo.correction)


def _smooth(A: sp.csr_matrix, w: np.ndarray, r: np.ndarray, z: np.ndarray,
            sweeps: int) -> np.ndarray:
    """``sweeps`` damped-Jacobi sweeps on ``A z = r`` from ``z``."""
    for _ in range(sweeps):
        z = z + w * (r - A @ z)
    return z


class JaxHints(eqx.Module):
    """The HINTS cycle on the grid, matrix-free: a jittable ``pc`` for ``backend="jax"``.

    ``A`` is applied by its stencil bands (:mod:`sciml.dcdm.stencil`); the smoother and the
    transfers run in the dtype of ``r``, the network in float32; a non-finite network
    correction is replaced by zero. Called on a flat vector it returns one;
    :meth:`cycle` takes and returns grid fields and says whether the correction was kept.
    """

    diagonal: jax.Array
    upper: tuple[jax.Array, ...]
    weight: jax.Array
    model: Any
    a: Any
    transfers: Any
    output_std: float = eqx.field(static=True)
    sweeps: int = eqx.field(static=True)

    def __call__(self, r: jax.Array) -> jax.Array:
        return self.cycle(r.reshape(self.diagonal.shape))[0].ravel()

    def cycle(self, r: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(z, kept)`` for a grid residual ``r``."""
        dt = r.dtype
        diag, upper = self.diagonal.astype(dt), tuple(u.astype(dt) for u in self.upper)
        w = self.weight.astype(dt)

        def smooth(z: jax.Array) -> jax.Array:
            def sweep(_: int, z: jax.Array) -> jax.Array:
                return z + w * (r - stencil.apply(diag, upper, z))

            return jax.lax.fori_loop(0, self.sweeps, sweep, z)

        z = smooth(jnp.zeros_like(r))
        kept = jnp.asarray(True)
        if self.model is not None:
            res = r - stencil.apply(diag, upper, z)
            T = None if self.transfers is None else tuple(t.astype(dt) for t in self.transfers)
            coarse = res if T is None else restrict(T, res)
            c = eo.correction(self.model, self.a, coarse, self.output_std).astype(dt)
            c = c if T is None else prolong(T, c)
            kept = jnp.all(jnp.isfinite(c))
            z = z + jnp.where(kept, c, jnp.zeros_like(c))
        return smooth(z), kept


#: Compiled host cycles by (model object, sweeps, grid, network grid): ``jax.jit`` of the
#: module's arrays, with its static part closed over (``eqx.filter_jit`` re-partitions the
#: module at every call, 3 ms of a 5 ms application at 64^2). The model objects are those of
#: the loader's cache, kept alive here, so their ids are stable keys.
_JITTED: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def _jitted_cycle(static: JaxHints, s: _Setup, sweeps: int) -> Any:
    model = None if s.op is None else s.op.model
    key = (id(model), sweeps, s.shape, s.net_shape)
    if key not in _JITTED:
        _JITTED[key] = (jax.jit(lambda params, r: eqx.combine(params, static).cycle(r)), model)
    return _JITTED[key][0]


def jax_preconditioner(A: Any, model: str | os.PathLike | None = None, sweeps: int = 16,
                       omega: float = 2.0 / 3.0,
                       shape: tuple[int, ...] | None = None) -> JaxHints:
    """The HINTS cycle for ``A`` (a grid Problem, or a stencil matrix with ``shape``) as a
    jax ``pc``; its arrays are float64 under ``jax.enable_x64`` (cast to the dtype of ``r``
    when applied)."""
    check_arguments(PC_PARAMS, "jax_preconditioner",
                    {"model": model, "sweeps": sweeps, "omega": omega, "shape": shape})
    n = A.A.shape[0] if hasattr(A, "kind") else A.shape[0]
    s = _Setup(as_system(A, np.zeros(n)), model, shape, "jax_preconditioner")
    return s.module(omega, sweeps, np.float64 if jax.config.jax_enable_x64 else np.float32)
