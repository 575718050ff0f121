"""The learned multigrid (``learned-mg`` DCDM models) distributed as PCMG, no gather to rank 0.

Run as ``mpiexec -n 2 python -m pytest tests/mpi/test_learned_mg_mpi.py -q -p no:cacheprovider``
(also passes on one rank). Each rank builds its slab's rows of the prolongations from a halo
of stencil entries (:mod:`sciml.dcdm.petsc_mg`); the result must be the serial JAX V-cycle.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
import operators.contrast
import operators.stencils
from operators import distributed
from solvers import solve

PETSc = pytest.importorskip("petsc4py.PETSc")
jax = pytest.importorskip("jax")
eqx = pytest.importorskip("equinox")
petsc_mg = pytest.importorskip("sciml.dcdm.petsc_mg")

RTOL = 1e-8


def _serial_cycle(matrix, shape, net, coarsest=petsc_mg.COARSEST):
    """The serial JAX V-cycle of the assembled ``matrix`` (boundary faces as the serial
    ``pc="dcdm"`` context reads them off a matrix), built by one compiled program."""
    from sciml.dcdm.context import _grid_stencil
    from sciml.dcdm.stencil import bands_from_matrix
    from solvers.backends.jax.cache import enable

    enable()
    with jax.enable_x64(True):
        return _build(net, _grid_stencil(None, bands_from_matrix(matrix, shape)), coarsest)


def _build_impl(net, A, coarsest):
    from solvers.multigrid import multigrid

    return multigrid(A, degree=net.arch.degree, coarsest=coarsest,
                     correct=None if net.out is None else net.correct)


_build = eqx.filter_jit(_build_impl)
_cycle = eqx.filter_jit(lambda M, r: M(r))


def _apply(M, vector):
    """``M`` (a PETSc ``Mat`` or ``PC``) applied to the global NumPy ``vector``, gathered."""
    from solvers.backends.petsc import gather

    mat = M if isinstance(M, PETSc.Mat) else M.getOperators()[0]
    x, y = mat.createVecs()
    lo, hi = x.getOwnershipRange()
    x.setArray(vector[lo:hi])
    (M.mult if isinstance(M, PETSc.Mat) else M.apply)(x, y)
    return gather(y)


@pytest.mark.parametrize("case", ["contrast2d", "fixed-mg-3d"])
def test_distributed_prolongations_and_cycle_equal_the_serial_jax_ones(case, comm, everywhere):
    if case == "contrast2d":
        shape, model, coarsest = (40, 40), "contrast2d", petsc_mg.COARSEST
        K = operators.contrast.inclusions(shape, 1e4, seed=2)
        problem, serial = distributed.diffusion(K), operators.diffusion(K)
    else:
        shape, model, coarsest = (8, 8, 12), "fixed-mg", 12
        problem, serial = distributed.poisson(shape), operators.poisson(shape)
    net = petsc_mg.load_network(model, len(shape))
    pc = PETSc.PC().create(problem.A.getComm())
    pc.setOptionsPrefix(f"test_{case.replace('-', '_')}_")
    levels = petsc_mg.configure(pc, problem.A, shape, net, coarsest)
    reference = _serial_cycle(serial.A, shape, net, coarsest)
    # float32 network: jitted on another patch, its rounding differs; black-box: float64
    tol = 1e-6 if net.out is not None else 1e-12
    rng = np.random.default_rng(0)
    assert everywhere(len(levels) == len(reference.stencils) >= 3)
    with jax.enable_x64(True):
        for k, transfer in enumerate(reference.transfers):
            coarse = reference.stencils[k + 1].shape
            c = rng.standard_normal(int(np.prod(coarse)))
            want = np.asarray(transfer.prolong(jax.numpy.asarray(c.reshape(coarse)))).ravel()
            got = _apply(pc.getMGInterpolation(len(levels) - 1 - k), c)
            assert everywhere(np.max(np.abs(got - want)) <= tol * np.max(np.abs(want)))
            assert everywhere(levels[k + 1].shape == coarse)
        r = rng.standard_normal(int(np.prod(shape)))
        want = np.asarray(_cycle(reference, jax.numpy.asarray(r)))
    got = _apply(pc, r)
    assert everywhere(np.max(np.abs(got - want)) <= 1e3 * tol * np.max(np.abs(want)))
    # no rank holds a whole level but the coarsest: it owns a slab, and reads its slab and
    # at most the halo of planes on either side (the finest patch: part of the grid)
    if comm.size > 1:
        for level in levels[:-1]:
            rows, total = level.A.getLocalSize()[0], level.A.getSize()[0]
            lo, hi = level.patch
            assert everywhere(rows < total)
            assert everywhere(hi - lo <= level.planes[1] - level.planes[0]
                              + 2 * petsc_mg.halo_planes(net))
        lo, hi = levels[0].patch
        assert everywhere(hi - lo < shape[0])


def test_the_halo_is_needed_and_enough(comm, everywhere, monkeypatch):
    """Perturbing the stencil on one fine plane changes only the weights of the cells within
    :func:`halo_planes` of it; on several ranks, two planes less changes ``P`` next to the
    slab boundary."""
    from solvers.multigrid.blackbox import interpolation
    from solvers.multigrid.galerkin import entries_of

    shape = (32, 32)
    K = operators.contrast.inclusions(shape, 1e4, seed=4)  # halo 8 < the 16-plane slabs
    problem, serial = distributed.diffusion(K), operators.diffusion(K)
    net = petsc_mg.load_network("contrast2d", 2)
    width = petsc_mg.halo_planes(net)
    with jax.enable_x64(True):
        entries = entries_of(operators.stencils.stencil(serial, np.float64))
        plane = 15
        bumped = {o: v.at[plane].multiply(1.5) for o, v in entries.items()}
        weights = eqx.filter_jit(lambda e: interpolation(e, (0, 1), net.correct).weights)
        before, after = weights(entries), weights(bumped)
        changed = np.flatnonzero(np.any([np.any(np.asarray(x != y), axis=1)
                                         for x, y in zip(before, after, strict=True)], axis=0))
    assert everywhere(changed.size > 0 and np.all(2 * changed - width <= plane)
                      and np.all(plane <= 2 * changed + 1 + width))
    if comm.size == 1:
        return
    reference = _serial_cycle(serial.A, shape, net)
    c = np.random.default_rng(1).standard_normal(16 * 16)
    with jax.enable_x64(True):
        want = np.asarray(reference.transfers[0].prolong(jax.numpy.asarray(c.reshape(16, 16))))
    errors = []
    for less in (0, 2):
        monkeypatch.setattr(petsc_mg, "halo_planes", lambda _, w=width - less: w)
        levels, transfers = petsc_mg.hierarchy(problem.A, shape, net)
        errors.append(np.max(np.abs(_apply(transfers[0], c) - want.ravel())))
        monkeypatch.undo()
    assert everywhere(errors[0] <= 1e-6 * np.max(np.abs(want)) < errors[1])


def test_cg_iterations_on_ranks_equal_one_rank_and_the_jax_cycle(comm, everywhere):
    from solvers.backends.petsc import gather

    shape = (64, 64)
    K = operators.contrast.inclusions(shape, 1e4, seed=7)
    problem, serial = distributed.diffusion(K), operators.diffusion(K)
    alone = distributed.diffusion(K, comm=PETSc.COMM_SELF)  # the same PCMG on one rank
    kwargs = dict(method="cg", pc="dcdm", model="contrast2d", rtol=RTOL)
    res = solve(problem, problem.b, backend="petsc", **kwargs)
    one = solve(alone, alone.b, backend="petsc", **kwargs)
    host = solve(serial, serial.b, **kwargs)  # the JAX CG + learned V-cycle
    fixed = solve(problem, problem.b, backend="petsc", **{**kwargs, "model": "fixed-mg"})
    x = gather(res.x) if isinstance(res.x, PETSc.Vec) else res.x
    assert everywhere(res.converged and one.converged and host.converged and fixed.converged)
    assert everywhere(abs(res.iterations - one.iterations) <= 2)
    assert everywhere(abs(res.iterations - host.iterations) <= 2)
    assert everywhere(res.iterations <= 20)
    residual = np.linalg.norm(serial.b - serial.A @ x)
    assert everywhere(residual <= RTOL * np.linalg.norm(serial.b))
    capped = solve(problem, problem.b, backend="petsc", **kwargs, maxiter=2)
    assert everywhere(not capped.converged and capped.iterations == 2)


def test_options_string_selects_the_distributed_cycle(everywhere):
    problem = distributed.poisson((16, 16, 16))
    options = ("-pc_type python -pc_python_type sciml.dcdm.petsc_mg.LearnedMGContext "
               "-pc_dcdm_model fixed-mg")
    res = solve(problem, problem.b, method="cg", backend="petsc", options=options, rtol=RTOL)
    named = solve(problem, problem.b, method="cg", pc="dcdm", model="fixed-mg",
                  backend="petsc", rtol=RTOL)
    assert everywhere(res.converged and named.converged and res.iterations == named.iterations)
    assert everywhere(res.iterations <= 10)


def test_bad_settings_fail_on_every_rank_and_name_the_culprit(comm, everywhere):
    problem = distributed.poisson((16, 16, 16))
    wrong_dim = solve(problem, problem.b, method="cg", pc="dcdm", model="contrast2d",
                      backend="petsc")
    assert everywhere(not wrong_dim.converged and wrong_dim.reason == "pc_failed")
    with pytest.raises(petsc_mg.InvalidOptionError, match="model='contrast2d' is for 2-D"):
        petsc_mg.LearnedMGContext().setup_from(problem.A, "contrast2d", None)
    with pytest.raises(petsc_mg.InvalidOptionError, match="shape=.*points but A has"):
        petsc_mg.LearnedMGContext().setup_from(problem.A, "fixed-mg", (16, 16, 15))
    wrong_shape = solve(problem, problem.b, method="cg", pc="dcdm", model="fixed-mg",
                        shape=(16, 16, 15), backend="petsc")
    assert everywhere(not wrong_shape.converged and wrong_shape.reason == "pc_failed")
    net = petsc_mg.load_network("fixed-mg", 3)
    for bad in (0, 10**9):
        with pytest.raises(petsc_mg.InvalidOptionError, match="coarsest"):
            petsc_mg.hierarchy(problem.A, (16, 16, 16), net, coarsest=bad)
    if comm.size == 2:  # 6 planes on 2 ranks: the second slab starts at the odd plane 3
        odd = distributed.poisson((6, 8))
        res = solve(odd, odd.b, method="cg", pc="dcdm", model="fixed-mg", backend="petsc")
        assert everywhere(not res.converged and res.reason == "pc_failed")
        with pytest.raises(petsc_mg.InvalidSystemError, match="even plane.*rank 1: planes 3:6"):
            petsc_mg.hierarchy(odd.A, (6, 8), petsc_mg.load_network("fixed-mg", 2))
        with pytest.raises(petsc_mg.InvalidSystemError, match="rank 0: rows 0:20, rank 1"):
            petsc_mg.hierarchy(distributed.poisson((5, 8)).A, (5, 8),
                               petsc_mg.load_network("fixed-mg", 2))


def test_a_grid_that_cannot_be_coarsened_is_refused_not_gathered_whole(comm, everywhere):
    """An odd grid has no coarse level: its "coarsest" level would be the whole grid, solved
    redundantly on every rank (a gather of everything); a coarsest level over MAX_COARSEST is
    refused on any rank count. Both before anything is built."""
    net2, net3 = petsc_mg.load_network("fixed-mg", 2), petsc_mg.load_network("fixed-mg", 3)
    big = distributed.poisson((47, 47, 47))  # 103,823 > MAX_COARSEST, no axis to halve
    with pytest.raises(petsc_mg.InvalidSystemError, match="coarsest level would be"):
        petsc_mg.hierarchy(big.A, (47, 47, 47), net3)
    odd = distributed.poisson((32 * comm.size, 31))  # axis 0 halves, axis 1 odd: fine
    levels, _ = petsc_mg.hierarchy(odd.A, (32 * comm.size, 31), net2)
    assert everywhere(len(levels) >= 3)
    if comm.size > 1:  # slabs at even planes, the grid odd both ways: no coarse level
        from operators.convert import scipy_to_petsc

        shape = (4 * comm.size + 1, 21)  # 4 planes a rank, 5 on the last
        planes = 4 + (comm.rank == comm.size - 1)
        like = PETSc.Vec().createMPI((planes * 21, shape[0] * 21))
        A = scipy_to_petsc(operators.poisson(shape).A.tocsr(), like)
        with pytest.raises(petsc_mg.InvalidSystemError, match="solved whole on every rank"):
            petsc_mg.hierarchy(A, shape, net2)
