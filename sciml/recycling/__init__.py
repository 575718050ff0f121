"""SKR: sorted sequences of systems solved with Krylov subspace recycling, and data generation.

- :func:`greedy_order` (:mod:`sciml.recycling.sort`): greedy nearest-neighbour order of the
  systems by their parameter fields, ``O(N^2)``;
- :func:`fast_order` (:mod:`sciml.recycling.fast_sort`): low Fourier modes, a Hilbert curve
  and greedy blocks, for large ``N``;
- :mod:`sciml.recycling.datagen`: ``python -m sciml datagen``, input/solution pairs of a family
  of :mod:`operators.families` (2D or 3D, ``--grid 64x64x64``), sorted and solved with
  ``method="gcrodr"``, in resumable shards across MPI ranks, with per-sample time and peak
  memory; :func:`run_datagen`, :func:`load_dataset`.
"""

from sciml.recycling.datagen import load_dataset, run_datagen
from sciml.recycling.fast_sort import fast_order
from sciml.recycling.sort import greedy_order, path_length

__all__ = ["fast_order", "greedy_order", "load_dataset", "path_length", "run_datagen"]
