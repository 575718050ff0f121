"""Gallery of model PDE problems on the unit square/cube, each returning a :class:`GridProblem`.

Finite differences on ``n`` interior nodes per axis, spacing ``h = 1/(n+1)``, zero Dirichlet
boundary values, unknowns ordered C-style (last axis fastest). Matrices are scaled by
``1/h^2`` so that they approximate the differential operator. Every matrix is assembled by
:func:`operators.assembly.diffusion_matrix`; the first-order (upwind) terms of
:func:`convection_diffusion` are added as Kronecker sums.

References
----------
.. [1] R. J. LeVeque, *Finite Difference Methods for Ordinary and Partial Differential
   Equations*, SIAM, 2007, chapters 2-3 (5- and 7-point Laplacians, their eigenvalues).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from operators.assembly import diffusion_matrix, grid_spacing, harmonic_faces
from operators.problem import GridProblem
from operators.validate import as_coefficient, as_real, as_rhs, as_shape


def unit_faces(shape: tuple[int, ...], value: float = 1.0) -> list[np.ndarray]:
    """Constant face coefficients for :func:`diffusion_matrix` (the Laplacian when 1)."""
    return [
        np.full(tuple(s + (i == a) for i, s in enumerate(shape)), value)
        for a in range(len(shape))
    ]


def laplacian_eigenvalue_range(spacing: Sequence[float]) -> tuple[float, float]:
    """Smallest and largest eigenvalue of the Dirichlet ``-Laplace`` stencil, analytically.

    With ``h = 1/(n+1)`` per axis the eigenvalues are sums over axes of
    ``(4/h^2) sin^2(j pi h / 2)``, ``j = 1..n`` [1]_; the extremes take ``j = 1`` and ``j = n``.

    Examples
    --------
    >>> lo, hi = laplacian_eigenvalue_range((0.5,))   # one node: the 1x1 matrix [8]
    >>> round(lo, 12), round(hi, 12)
    (8.0, 8.0)
    """
    h = np.asarray(spacing, dtype=float)
    lo = float(np.sum(4.0 / h**2 * np.sin(np.pi * h / 2) ** 2))
    hi = float(np.sum(4.0 / h**2 * np.cos(np.pi * h / 2) ** 2))
    return lo, hi


#: Boundary conditions of the Helmholtz family (:class:`operators.families.HelmholtzFamily`).
BOUNDARIES = {"dirichlet": "zero boundary values",
              "absorbing": "first-order absorbing condition du/dn + i k u = 0"}


def absorbing_diagonal(wavenumber: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    r"""Diagonal term of the first-order absorbing condition ``du/dn + i kappa u = 0``.

    The condition is imposed at the ghost node beyond each boundary face, one-sidedly:
    ``(u_g - u_j)/h + i kappa_j u_g = 0``, so ``u_g = u_j / (1 + i kappa_j h)``, and the
    neighbour term ``-u_g / h^2`` of the (2d+1)-point Laplacian moves onto the diagonal. A
    node next to ``f`` boundary faces (``f`` = 1 on a face, 2 on an edge, 3 at a corner) gets

    .. math:: -\sum_{a \in 	ext{faces}} rac{1}{h_a^2 (1 + i \kappa_j h_a)},

    whose imaginary part ``kappa h / (h^2 (1 + kappa^2 h^2))`` is positive: the damping has
    the sign of the complex shift of ``pc="shifted-laplacian"`` [5]_ (time factor
    ``exp(i omega t)``). Add it to the Dirichlet matrix's diagonal.

    Parameters
    ----------
    wavenumber
        ``kappa = k / c`` at every node of the interior grid (its shape is the grid shape).
    spacing
        Grid spacing per axis.

    References
    ----------
    .. [5] Y. A. Erlangga, C. W. Oosterlee, C. Vuik, "A novel multigrid based preconditioner
       for heterogeneous Helmholtz problems", SIAM J. Sci. Comput. 27(4), 2006, 1471-1492.

    Examples
    --------
    >>> d = absorbing_diagonal(np.zeros((3, 3)), (0.25, 0.25))   # kappa = 0: a Neumann face
    >>> d.real.tolist()
    [[-32.0, -16.0, -32.0], [-16.0, 0.0, -16.0], [-32.0, -16.0, -32.0]]
    """
    kappa = np.asarray(wavenumber, dtype=float)
    out = np.zeros(kappa.shape, dtype=complex)
    for a, h in enumerate(spacing):
        term = -1.0 / (h**2 * (1 + 1j * kappa * h))
        ends = [0, kappa.shape[a] - 1]
        index = tuple(slice(None) if i != a else ends for i in range(kappa.ndim))
        out[index] += term[index]
    return out


def poisson(shape: int | tuple[int, ...], rhs: np.ndarray | None = None) -> GridProblem:
    """Poisson problem ``-Laplace(u) = f``: the 3-, 5- or 7-point stencil in 1D, 2D or 3D.

    Parameters
    ----------
    shape
        Interior grid, e.g. ``(64, 64)`` or ``(32, 32, 32)``; an int means a square 2D grid.
    rhs
        Right-hand side values on the grid (flattened or grid-shaped); default ``f = 1``.

    Examples
    --------
    >>> p = poisson((4, 4))
    >>> p.A.shape, p.symmetric
    ((16, 16), True)
    """
    shape = as_shape(shape)
    spacing = grid_spacing(shape)
    A = diffusion_matrix(unit_faces(shape), spacing)
    b = as_rhs(rhs, shape)
    return GridProblem(A, b, shape, spacing, kind="poisson", symmetric=True,
                       positive_definite=True)


def diffusion(K: np.ndarray, rhs: np.ndarray | None = None) -> GridProblem:
    r"""Variable-coefficient diffusion ``-div(K grad u) = f`` with harmonic face averages.

    The flux between neighbouring nodes ``i`` and ``j`` uses the face coefficient
    ``K_{ij} = 2 K_i K_j / (K_i + K_j)`` (exact for a coefficient that is piecewise constant
    around the nodes [2]_), giving the symmetric positive definite (2d+1)-point stencil

    .. math:: (A u)_i = \sum_a h_a^{-2} \left[K_{i,i+e_a}(u_i - u_{i+e_a})
              + K_{i,i-e_a}(u_i - u_{i-e_a})\right].

    Parameters
    ----------
    K
        Positive, finite node values on the interior grid (1D, 2D or 3D array); its shape is
        the grid shape. A boundary face takes the value of its adjacent node.
    rhs
        Right-hand side on the grid (flattened or grid-shaped); default ``f = 1``.

    Returns
    -------
    GridProblem
        ``kind="diffusion"``, ``coefficient=K``, symmetric positive definite.

    Raises
    ------
    ValueError
        If ``K`` has NaN/Inf or non-positive values, or the wrong number of axes.

    References
    ----------
    .. [2] S. V. Patankar, *Numerical Heat Transfer and Fluid Flow*, Hemisphere, 1980, sec. 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> p = diffusion(np.ones((3, 3)))
    >>> bool(abs(p.A - poisson((3, 3)).A).max() == 0)
    True
    """
    K = as_coefficient(K)
    shape = K.shape
    spacing = grid_spacing(shape)
    faces = [harmonic_faces(K, a) for a in range(K.ndim)]
    A = diffusion_matrix(faces, spacing)
    return GridProblem(
        A, as_rhs(rhs, shape), shape, spacing, kind="diffusion", coefficient=K,
        symmetric=True, positive_definite=True, params={"averaging": "harmonic"},
    )


def helmholtz(
    shape: int | tuple[int, ...],
    k: float,
    rhs: np.ndarray | None = None,
    damping: float = 0.0,
) -> GridProblem:
    r"""Helmholtz problem ``-Laplace(u) - k^2 (1 + i*damping) u = f``.

    Without damping the matrix ``L - k^2 I`` is real symmetric; it is positive definite
    only while ``k^2`` lies below the smallest Laplacian eigenvalue
    ``lambda_min = sum_a (4/h_a^2) sin^2(pi h_a / 2)`` (about ``d pi^2``), and indefinite
    once ``k^2`` passes it. With ``damping > 0`` the shift is complex,
    ``-(k^2)(1 + i*damping)``, as in the damped (complex-shifted) Helmholtz operator used
    for preconditioning [3]_: the matrix is complex128, complex *symmetric* (``A = A^T``) but
    not Hermitian, so ``symmetric`` (which means Hermitian) is False.

    Parameters
    ----------
    shape
        Interior grid, e.g. ``(64, 64)``; an int means a square 2D grid.
    k
        Wave number (real). Resolve it with about 10 points per wavelength:
        ``k h <= 2 pi / 10``; ``params["points_per_wavelength"]`` reports it.
    rhs
        Right-hand side on the grid; default ``f = 1``.
    damping
        Relative imaginary part of the shift, ``>= 0``.

    Returns
    -------
    GridProblem
        ``kind="helmholtz"``; ``params`` holds ``k``, ``damping``, ``shift``, ``hermitian``,
        ``complex_symmetric``, the Laplacian eigenvalue range and ``mass = k^2`` (what
        ``pc="shifted-laplacian"`` shifts).

    References
    ----------
    .. [3] Y. A. Erlangga, C. Vuik, C. W. Oosterlee, "On a class of preconditioners for
       solving the Helmholtz equation", Appl. Numer. Math. 50 (2004) 409-425.

    Examples
    --------
    >>> helmholtz((8, 8), k=1.0).positive_definite, helmholtz((8, 8), k=20.0).positive_definite
    (True, False)
    >>> helmholtz((8, 8), k=20.0, damping=0.5).A.dtype
    dtype('complex128')
    """
    shape = as_shape(shape)
    k = as_real(k, "k")
    damping = as_real(damping, "damping", minimum=0.0)
    spacing = grid_spacing(shape)
    shift = -(k**2) * (1 + 1j * damping) if damping > 0 else -(k**2)
    A = diffusion_matrix(unit_faces(shape), spacing, diagonal=shift)
    lo, hi = laplacian_eigenvalue_range(spacing)
    hermitian = damping == 0
    params = {
        "k": k,
        "damping": damping,
        "shift": shift,
        "hermitian": hermitian,
        "complex_symmetric": True,
        "laplacian_eigenvalue_range": (lo, hi),
        "mass": k**2,
        "points_per_wavelength": 2 * np.pi / (abs(k) * max(spacing)) if k else np.inf,
    }
    b = as_rhs(rhs, shape, dtype=complex if damping > 0 else float)
    return GridProblem(
        A, b, shape, spacing, kind="helmholtz", symmetric=hermitian,
        positive_definite=hermitian and k**2 < lo, params=params,
    )


def upwind_matrix(
    shape: tuple[int, ...], spacing: tuple[float, ...], velocity: tuple[float, ...]
) -> sp.csr_matrix:
    """First-order upwind ``v . grad u`` as a Kronecker sum of 1D two-point differences."""
    n = int(np.prod(shape))
    C = sp.csr_matrix((n, n))
    for a, (m, h, v) in enumerate(zip(shape, spacing, velocity, strict=True)):
        if v == 0:
            continue
        # v > 0: v (u_i - u_{i-1}) / h (backward);  v < 0: v (u_{i+1} - u_i) / h (forward)
        lower, centre, upper = -max(v, 0.0) / h, abs(v) / h, min(v, 0.0) / h
        T = sp.diags([lower, centre, upper], [-1, 0, 1], shape=(m, m))
        before = sp.identity(int(np.prod(shape[:a])))
        after = sp.identity(int(np.prod(shape[a + 1 :])))
        C = C + sp.kron(sp.kron(before, T), after)
    return sp.csr_matrix(C)


def convection_diffusion(
    shape: int | tuple[int, ...],
    velocity: Sequence[float],
    rhs: np.ndarray | None = None,
    diffusivity: float = 1.0,
) -> GridProblem:
    r"""Convection-diffusion ``-eps Laplace(u) + v . grad(u) = f``, first-order upwind.

    Central differences for the diffusion, one-sided differences taken from the upwind side
    for the convection: for ``v_a > 0`` the term ``v_a (u_i - u_{i-e_a}) / h_a``, for
    ``v_a < 0`` the term ``v_a (u_{i+e_a} - u_i) / h_a``. The matrix is an M-matrix for every
    mesh Peclet number ``Pe = |v_a| h_a / (2 eps)`` (no spurious oscillations, at the cost of
    first-order accuracy and added numerical diffusion ``|v_a| h_a / 2``) [4]_. It is
    nonsymmetric for ``v != 0``; its symmetric part is positive definite
    (``params["positive_real"]``), but ``positive_definite`` is reserved for SPD matrices
    and is True only when ``v = 0``.

    Parameters
    ----------
    shape
        Interior grid; an int means a square 2D grid.
    velocity
        Constant velocity, one component per axis.
    rhs
        Right-hand side on the grid; default ``f = 1``.
    diffusivity
        ``eps > 0``.

    References
    ----------
    .. [4] H. C. Elman, D. J. Silvester, A. J. Wathen, *Finite Elements and Fast Iterative
       Solvers*, 2nd ed., Oxford University Press, 2014, chapter 6.

    Examples
    --------
    >>> p = convection_diffusion((8, 8), velocity=(10.0, 0.0))
    >>> p.symmetric, p.kind
    (False, 'convection_diffusion')
    """
    shape = as_shape(shape)
    eps = as_real(diffusivity, "diffusivity")
    if eps <= 0:
        raise ValueError(f"diffusivity must be positive, not {eps}")
    v = tuple(np.atleast_1d(np.asarray(velocity, dtype=object)))
    if len(v) != len(shape):
        raise ValueError(
            f"velocity must have one component per axis of the grid {shape} "
            f"({len(shape)} values), not {velocity!r}"
        )
    v = tuple(as_real(c, "each velocity component") for c in v)
    spacing = grid_spacing(shape)
    A = diffusion_matrix(unit_faces(shape, eps), spacing)
    if any(v):
        A = sp.csr_matrix(A + upwind_matrix(shape, spacing, v))
        A.sort_indices()
    symmetric = not any(v)
    params = {
        "velocity": v,
        "diffusivity": eps,
        "scheme": "upwind",
        "peclet": max(abs(c) * h for c, h in zip(v, spacing, strict=True)) / (2 * eps),
        "positive_real": True,
    }
    return GridProblem(
        A, as_rhs(rhs, shape), shape, spacing, kind="convection_diffusion",
        symmetric=symmetric, positive_definite=symmetric, params=params,
    )

