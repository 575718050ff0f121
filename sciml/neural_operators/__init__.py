"""Neural operators (FNO, MgNO) trained on ``python -m sciml datagen`` data, and their use as
initial guesses of classical solves.

>>> from sciml.neural_operators import FNO, FNOConfig, MgNO, MgNOConfig, train_operator
>>> # train_operator("fno", "darcy-data/", "runs/fno", epochs=100)
>>> # x0 = initial_guess("fno:darcy", problem); solve(problem, problem.b, x0=x0)
"""

from sciml.neural_operators.fno import FNO, FNOConfig
from sciml.neural_operators.losses import relative_h1, relative_l2
from sciml.neural_operators.mgno import MgNO, MgNOConfig
from sciml.neural_operators.saving import TrainedOperator, build, load, save
from sciml.neural_operators.train import train_operator
from sciml.neural_operators.warm_start import initial_guess

__all__ = ["FNO", "FNOConfig", "MgNO", "MgNOConfig", "TrainedOperator", "build",
           "initial_guess", "load", "relative_h1", "relative_l2", "save", "train_operator"]
