"""Data-free mesh movers (DMM): a network potential ``phi(u, xi)`` trained on the
Monge-Ampere equidistribution residual, moving a mesh in one evaluation.

* :mod:`~sciml.mesh_movers.model` -- the branch/trunk/decoder network;
* :mod:`~sciml.mesh_movers.fronts` -- the training family (tanh fronts) and its monitor;
* :mod:`~sciml.mesh_movers.loss` -- the data-free loss and collocation sampling;
* :mod:`~sciml.mesh_movers.train` -- training on :func:`sciml.training.train`;
* :mod:`~sciml.mesh_movers.weights` -- saving/loading (shipped: ``"fronts"``, ``"moving"``);
* :mod:`~sciml.mesh_movers.mover` -- :class:`DMM`, moving a mesh;
* :mod:`~sciml.mesh_movers.pdes`, :mod:`~sciml.mesh_movers.movers`,
  :mod:`~sciml.mesh_movers.simulation` -- moving the mesh inside a time loop (Burgers,
  Allen-Cahn; uniform / Monge-Ampere / DMM movers; conservative transfer);
* :mod:`~sciml.mesh_movers.snapshots` -- training the DMM on monitors of numerical
  solutions (shipped as ``"moving"``).

The classical counterpart is :class:`meshes.MongeAmpereMover`.
"""

from sciml.mesh_movers.model import Architecture, DMMNet
from sciml.mesh_movers.mover import DMM, DMMResult

__all__ = ["DMM", "Architecture", "DMMNet", "DMMResult"]
