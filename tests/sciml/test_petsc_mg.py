"""The distributed learned multigrid (:mod:`sciml.dcdm.petsc_mg`) on one rank of PETSc.

The MPI suite (``tests/mpi/test_learned_mg_mpi.py``) checks it against the serial JAX cycle on
two ranks; these are the fast one-rank checks of the dispatch and of the parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from solvers import solve

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_mg = pytest.importorskip("sciml.dcdm.petsc_mg")


def test_pc_dcdm_dispatches_learned_mg_models_to_pcmg_with_the_jax_iterations():
    p = operators.poisson((32, 32))
    res = solve(p, p.b, method="cg", pc="dcdm", model="fixed-mg", backend="petsc", rtol=1e-8)
    host = solve(p, p.b, method="cg", pc="dcdm", model="fixed-mg", rtol=1e-8)
    fcg = solve(p, p.b, method="fcg", pc="dcdm", model="fixed-mg", backend="petsc", rtol=1e-8)
    assert res.converged and host.converged and fcg.converged
    assert abs(res.iterations - host.iterations) <= 1 and res.iterations <= 10
    assert abs(fcg.iterations - res.iterations) <= 1
    x = np.asarray(res.x.getArray() if isinstance(res.x, PETSc.Vec) else res.x)
    assert np.linalg.norm(p.b - p.A @ x) <= 1e-8 * np.linalg.norm(p.b)


def test_the_cnn_models_keep_the_gather_scheme_and_mg_models_are_recognised():
    assert petsc_mg.is_multigrid_model("fixed-mg") and petsc_mg.is_multigrid_model("contrast2d")
    assert not any(petsc_mg.is_multigrid_model(m) for m in (None, "fixed", "poisson2d"))
    assert not petsc_mg.is_multigrid_model("/no/such/file.eqx")


def test_halo_width_is_the_receptive_field_of_the_network():
    assert petsc_mg.halo_planes(petsc_mg.load_network("fixed-mg", 3)) == 2
    net = petsc_mg.load_network("contrast2d", 2)
    assert petsc_mg.halo_planes(net) == 2 * (net.arch.layers + 2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"shape": (32,)}, "shape"),
    ({"shape": (32, 32), "coarsest": 0}, "coarsest"),
    ({"shape": (32, 32), "degree": 0}, "degree"),
])
def test_bad_parameters_raise_before_anything_is_built(kwargs, match):
    args = {"shape": (32, 32), "degree": 2, "coarsest": 100} | kwargs
    with pytest.raises(petsc_mg.InvalidOptionError, match=match):
        petsc_mg.check_parameters(args["shape"], args["degree"], args["coarsest"])


def test_a_matrix_that_is_not_a_grid_stencil_is_refused():
    from operators.convert import to_petsc

    p = operators.poisson((8, 8))
    A = p.A.tolil()
    A[0, 63] = A[63, 0] = -1.0  # a coupling across the grid
    with pytest.raises(petsc_mg.InvalidSystemError, match="stencil"):
        petsc_mg.hierarchy(to_petsc(A.tocsr())[0], (8, 8),
                           petsc_mg.load_network("fixed-mg", 2), coarsest=4)


def test_a_malformed_shape_option_is_refused_not_read_as_other_digits():
    """``-pc_dcdm_shape 16,-16`` was read as (16, 16) (the digits alone); now any text that
    is not a list of ints is an error naming the option, on both PETSc dcdm contexts."""
    from sciml.dcdm.petsc import parse_shape

    assert parse_shape("(64, 64, 64)") == parse_shape("64x64x64") == (64, 64, 64)
    assert parse_shape("  ") is None
    p = operators.poisson((16, 16))
    for context in ("sciml.dcdm.petsc_mg.LearnedMGContext", "sciml.dcdm.petsc.DCDMContext"):
        for bad in ("16,-16", "16.5,16", "sixteen"):
            options = (f"-pc_type python -pc_python_type {context} -pc_dcdm_model fixed-mg "
                       f"-pc_dcdm_shape {bad}")
            res = solve(p.A, p.b, method="cg", backend="petsc", options=options)
            assert res.reason == "pc_failed" and "-pc_dcdm_shape" in str(res.info["error"])
