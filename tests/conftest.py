"""Shared fixtures: a seeded generator whose seed is shown on failure."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    seed = 12345
    request.node.user_properties.append(("seed", seed))
    return np.random.default_rng(seed)
