"""The conditional density q(y | features), from zuko (PyTorch, CPU): a Gaussian mixture
whose weights, means and covariances a network computes from the features (``gmm``, the
default), or a neural spline flow (``nsf``).  Trained by maximum likelihood on simulations;
saved as plain arrays (``.npz``) and its construction arguments (JSON), never a pickle.

Why the mixture is the default: the importance step draws thousands of proposals per galaxy.
The mixture's network runs once per galaxy, then drawing and evaluating 4,000 proposals
costs about 3 ms; the spline flow's autoregressive network runs for every proposal and
dimension (4,000 draws: ~300 ms, ~150 ms with coupling layers), more than the whole
per-galaxy budget.  The importance weights correct either proposal; the effective sample
size measures how good it is (docs/amortized.rst has both measured).

PyTorch and zuko are the optional extra ``[amortized]``, needed to train; the mixture's
inference is numpy (:mod:`.gmm`), the spline flow's zuko.  Only :mod:`prospect_emu.amortized`
imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from .gmm import GaussianMixture


def _torch():
    try:
        import torch
        import zuko
    except ImportError as exc:
        raise ConfigurationError("amortized posteriors need PyTorch and zuko: "
                                 "pip install 'prospect-emu[amortized]'") from exc
    return torch, zuko


class _Family:
    """A kind of conditional density: how zuko builds it and how it draws with log densities."""

    name = ""

    def build(self, spec: FlowSpec):
        raise NotImplementedError

    def draw(self, dist, k: int):
        """``k`` draws and their log densities from the conditioned distribution."""
        x = dist.sample((k,))
        return x, dist.log_prob(x)


class _Mixture(_Family):
    name = "gmm"

    def build(self, spec: FlowSpec):
        _, zuko = _torch()
        return zuko.flows.GMM(spec.features, spec.context, components=spec.components,
                              hidden_features=tuple(spec.hidden))


class _Spline(_Family):
    name = "nsf"

    def build(self, spec: FlowSpec):
        _, zuko = _torch()
        return zuko.flows.NSF(spec.features, spec.context, bins=spec.bins,
                              transforms=spec.transforms, hidden_features=tuple(spec.hidden),
                              passes=spec.passes)

    def draw(self, dist, k: int):
        return dist.rsample_and_log_prob((k,))


#: The conditional densities by name.
FAMILIES: dict[str, _Family] = {f.name: f for f in (_Mixture(), _Spline())}


@dataclass
class FlowSpec:
    """What builds the conditional density: the family and its zuko arguments."""

    features: int
    context: int
    family: str = "gmm"
    components: int = 12
    transforms: int = 5
    hidden: tuple[int, ...] = (128, 128)
    bins: int = 8
    passes: int | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ConfigurationError(f"unknown posterior family {self.family!r}: one of "
                                     f"{', '.join(FAMILIES)}")

    def build(self):
        return FAMILIES[self.family].build(self)

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "features": self.features, "context": self.context,
                "components": self.components, "transforms": self.transforms,
                "hidden": list(self.hidden), "bins": self.bins, "passes": self.passes}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FlowSpec:
        return cls(int(d["features"]), int(d["context"]), d.get("family", "nsf"),
                   int(d.get("components", 12)), int(d["transforms"]),
                   tuple(int(h) for h in d["hidden"]), int(d["bins"]), d.get("passes"))


@dataclass
class TrainReport:
    """How training went: losses per epoch (mean negative log density of y), time, stop."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_val: float = float("inf")
    seconds: float = 0.0
    stopped: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"train_loss": self.train_loss, "val_loss": self.val_loss,
                "best_val_loss": self.best_val, "seconds": round(self.seconds, 1),
                "stopped": self.stopped}


def train_flow(spec: FlowSpec, y: np.ndarray, ctx: np.ndarray, *, epochs: int = 200,
               batch: int = 512, lr: float = 1e-3, max_minutes: float = 20.0,
               patience: int = 8, val_fraction: float = 0.05, seed: int = 0,
               threads: int | None = None, progress: bool = True,
               init: dict[str, np.ndarray] | None = None,
               on_best: Callable[[Any, TrainReport], None] | None = None):
    """Train the flow on pairs ``(y, ctx)``; returns ``(flow, TrainReport)`` with the weights
    of the best validation epoch.

    The learning rate is halved when the validation loss stalls for ``patience // 2``
    epochs; training stops after ``patience`` epochs without improvement, after ``epochs``,
    at ``max_minutes`` or at an interrupt (Ctrl-C), each time with the best weights so far.

    Parameters
    ----------
    init : dict of ndarray, optional
        The arrays of an earlier training of the same ``spec`` (:func:`save_weights`) to
        start from, instead of a fresh initialisation.
    on_best : callable, optional
        Called as ``on_best(flow, report)`` after each epoch that improved the validation
        loss, with the flow holding those weights (to checkpoint them).
    """
    torch, _ = _torch()
    from tqdm.auto import tqdm

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(y)
    order = rng.permutation(n)
    n_val = max(int(val_fraction * n), min(n // 2, 1000))
    val, tr = order[:n_val], order[n_val:]
    Y = torch.as_tensor(np.asarray(y, dtype=np.float32))
    C = torch.as_tensor(np.asarray(ctx, dtype=np.float32))
    flow = _torch_flow(spec, init)
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5,
                                                       patience=max(patience // 2 - 1, 1))
    report, best_state, stale = TrainReport(), None, 0
    t0 = time.perf_counter()
    deadline = t0 + 60.0 * max_minutes
    bar = tqdm(total=epochs, desc="train-posterior", unit="epoch", disable=not progress)
    try:
        for _epoch in range(epochs):
            report.train_loss.append(_epoch_pass(flow, opt, Y, C, rng.permutation(tr), batch,
                                                 deadline))
            val_loss = _loss(flow, Y[val], C[val])
            report.val_loss.append(val_loss)
            sched.step(val_loss)
            if val_loss < report.best_val - 1e-4:
                report.best_val, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in flow.state_dict().items()}
                if on_best is not None:
                    report.seconds = time.perf_counter() - t0
                    on_best(flow, report)
            else:
                stale += 1
            bar.update(1)
            bar.set_postfix_str(f"val {val_loss:.3f} best {report.best_val:.3f}")
            if time.perf_counter() > deadline:
                report.stopped = f"time limit ({max_minutes} min)"
                break
            if stale >= patience:
                report.stopped = f"no improvement in {patience} epochs"
                break
        else:
            report.stopped = f"{epochs} epochs"
    except KeyboardInterrupt:
        report.stopped = "interrupted"
    bar.close()
    if best_state is not None:
        flow.load_state_dict(best_state)
    flow.eval()
    report.seconds = time.perf_counter() - t0
    return flow, report


def _epoch_pass(flow, opt, Y, C, order: np.ndarray, batch: int, deadline: float) -> float:
    """One pass of gradient steps over the rows ``order`` (until ``deadline``); the mean
    training loss."""
    torch, _ = _torch()
    flow.train()
    perm = torch.as_tensor(order)
    total, seen = 0.0, 0
    for k in range(0, len(perm), batch):
        idx = perm[k:k + batch]
        loss = -flow(C[idx]).log_prob(Y[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        seen += len(idx)
        if time.perf_counter() > deadline:
            break
    return total / max(seen, 1)


def _loss(flow, Y, C, block: int = 8192) -> float:
    torch, _ = _torch()
    flow.eval()
    with torch.no_grad():
        tot = sum(float(-flow(C[k:k + block]).log_prob(Y[k:k + block]).sum())
                  for k in range(0, len(Y), block))
    return tot / len(Y)


def save_weights(flow, path: Path) -> None:
    """The flow's parameters and buffers as arrays in ``path`` (``.npz``), written whole or
    not at all (a half-written file never replaces the previous one)."""
    if isinstance(flow, GaussianMixture):
        arrays = flow.state
    else:
        arrays = {k: v.detach().cpu().numpy() for k, v in flow.state_dict().items()}
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`save_weights` wrote."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def load_flow(spec: FlowSpec, path: Path):
    """The flow of ``spec`` with the arrays of ``path``: the mixture as a numpy
    :class:`~.gmm.GaussianMixture` (no PyTorch needed), the spline flow in zuko."""
    arrays = load_arrays(path)
    if spec.family == "gmm":
        return GaussianMixture(arrays, spec.features, spec.components)
    flow = _torch_flow(spec, arrays)
    flow.eval()
    return flow


def _torch_flow(spec: FlowSpec, arrays: dict[str, np.ndarray] | None = None):
    """The zuko flow of ``spec``, freshly initialised or holding ``arrays``."""
    torch, _ = _torch()
    flow = spec.build()
    if arrays is not None:
        flow.load_state_dict({k: torch.as_tensor(v) for k, v in arrays.items()})
    return flow


def sample(flow, family: str, ctx: np.ndarray, k: int, seed: int | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """``k`` draws of y from q(y | ctx) and their log densities, as float64 arrays."""
    if isinstance(flow, GaussianMixture):
        return flow.sample(ctx, int(k), np.random.default_rng(seed))
    torch, _ = _torch()
    gen_state = None
    if seed is not None:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(int(seed))
    try:
        with torch.no_grad():
            dist = flow(torch.as_tensor(np.asarray(ctx, dtype=np.float32)))
            y, logq = FAMILIES[family].draw(dist, int(k))
    finally:
        if gen_state is not None:
            torch.random.set_rng_state(gen_state)
    return y.numpy().astype(float), logq.numpy().astype(float)


def log_prob(flow, ctx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``ln q(y | ctx)`` for rows of ``y``, as float64."""
    if isinstance(flow, GaussianMixture):
        return flow.log_prob(ctx, y)
    torch, _ = _torch()
    with torch.no_grad():
        dist = flow(torch.as_tensor(np.asarray(ctx, dtype=np.float32)))
        return dist.log_prob(torch.as_tensor(np.asarray(y, dtype=np.float32))).numpy().astype(float)
