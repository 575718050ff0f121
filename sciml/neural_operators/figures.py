"""Figures of a training run: the loss curve and prediction / truth / error of test samples.

Drawn on :class:`matplotlib.figure.Figure` objects, not through ``pyplot``: writing a PNG needs
no backend, so the caller's backend (a notebook's inline one) is left as it was."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sciml.persist import atomic_write

__all__ = ["plot_losses", "plot_predictions"]


def _figure(path: str | os.PathLike, fig: Any) -> None:
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


def plot_losses(path: str | os.PathLike, losses: list[float], per_epoch: int,
                history: list[dict[str, float]]) -> None:
    """Training loss per step and per epoch (mean), held-out relative L2/H1 per evaluation."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    steps = np.arange(1, len(losses) + 1) / per_epoch
    ax.semilogy(steps, losses, color="0.8", lw=0.5, label="train loss (step)")
    epochs = len(losses) // per_epoch
    if epochs:
        means = np.mean(np.reshape(losses[: epochs * per_epoch], (epochs, per_epoch)), axis=1)
        ax.semilogy(np.arange(1, epochs + 1), means, "k-", label="train loss (epoch mean)")
    if history:
        ep = [h["epoch"] for h in history]
        ax.semilogy(ep, [h["test_l2"] for h in history], "o-", label="test rel. L2")
        ax.semilogy(ep, [h["test_h1"] for h in history], "s-", label="test rel. H1")
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    _figure(path, fig)


def plot_predictions(path: str | os.PathLike, op: Any, inputs: np.ndarray,
                     outputs: np.ndarray) -> None:
    """One row per sample: input field, true solution, prediction, error."""
    from matplotlib.figure import Figure

    pred = op(inputs)
    fig = Figure(figsize=(12, 3 * len(inputs)))
    axes = fig.subplots(len(inputs), 4, squeeze=False)
    for row, (a, u, p) in enumerate(zip(inputs, outputs, pred, strict=True)):
        err = np.linalg.norm(p - u) / np.linalg.norm(u)
        panels = [(np.log(a) if np.all(a > 0) else a, "input (log)" if np.all(a > 0) else "input"),
                  (u, "truth"), (p, "prediction"), (p - u, f"error (rel. L2 {err:.2%})")]
        for ax, (field, title) in zip(axes[row], panels, strict=True):
            im = ax.imshow(field, origin="lower", cmap="RdBu_r" if "error" in title else None)
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, fraction=0.046)
    _figure(path, fig)
