"""neuraloperator's FNO (PyTorch, CPU) on the data of bench_neural_operators.py.

Run by the benchmark in a separate virtual environment (torch and neuraloperator are never
dependencies of this project)::

    python -m venv /work/venvs/torch
    /work/venvs/torch/bin/pip install torch==2.13.0 neuraloperator
    /work/venvs/torch/bin/python benchmarks/neuraloperator_peer.py IN.npz OUT.json

``IN.npz`` holds the normalised arrays ``x_train``, ``y_train`` (``(N, 1, H, W)`` float32),
``x_test``, ``u_test`` (physical test solutions ``(M, H, W)``), the output scaling
``output_mean``/``output_std`` and the settings ``epochs``, ``batch_size``, ``lr``, ``modes``,
``width``, ``weight_decay``, ``seed``. The model is neuraloperator's ``FNO`` with
``n_modes=(2 modes, 2 modes - 1)``, which keeps exactly the Fourier modes our FNO keeps
(``kx`` in ``[-modes, modes)``, ``ky`` in ``[0, modes)``), ``hidden_channels=width``,
``projection_channel_ratio=2``; AdamW with a cosine schedule and neuraloperator's relative
``H1Loss`` on the decoded solution, as in its Darcy example. Prints nothing but errors; writes
``OUT.json``: parameters (real numbers), seconds per epoch (median, first epoch left out),
test relative L2.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch
from neuralop.losses import H1Loss
from neuralop.models import FNO


def main(source: str, target: str) -> None:
    d = np.load(source)
    settings = {k: d[k].item() for k in ("epochs", "batch_size", "lr", "modes", "width",
                                         "weight_decay", "seed")}
    torch.manual_seed(int(settings["seed"]))
    torch.set_num_threads(os.cpu_count() or 1)
    m = int(settings["modes"])
    model = FNO(n_modes=(2 * m, 2 * m - 1), hidden_channels=int(settings["width"]),
                in_channels=1, out_channels=1, projection_channel_ratio=2)
    x, y = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
    mean, std = float(d["output_mean"]), float(d["output_std"])
    batch, epochs = int(settings["batch_size"]), int(settings["epochs"])
    per_epoch = len(x) // batch
    opt = torch.optim.AdamW(model.parameters(), lr=float(settings["lr"]),
                            weight_decay=float(settings["weight_decay"]))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
    loss_fn = H1Loss(d=2)
    gen = torch.Generator().manual_seed(int(settings["seed"]))
    times = []
    for _ in range(epochs):
        tick = time.perf_counter()
        order = torch.randperm(len(x), generator=gen)
        model.train()
        for i in range(per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            opt.zero_grad()
            loss = loss_fn(mean + std * model(x[idx]), mean + std * y[idx])
            loss.backward()
            opt.step()
            sched.step()
        times.append(time.perf_counter() - tick)
    model.eval()
    with torch.no_grad():
        pred = mean + std * model(torch.from_numpy(d["x_test"])).numpy()[:, 0].astype(np.float64)
    u = d["u_test"]
    err = np.linalg.norm((pred - u).reshape(len(u), -1), axis=1) / np.linalg.norm(
        u.reshape(len(u), -1), axis=1)
    # a complex weight counts as two real parameters, as ours (stored as real pairs) do
    result = {"parameters": sum(p.numel() * (2 if p.is_complex() else 1)
                                for p in model.parameters()),
              "seconds_per_epoch": float(np.median(times[1:] or times)),
              "test_l2": float(err.mean()), "threads": torch.get_num_threads(),
              "torch": torch.__version__}
    with open(target, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
