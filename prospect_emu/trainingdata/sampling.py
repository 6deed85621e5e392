"""Where training parameters are drawn from: prior, uniform, user callables, mixtures.

A :class:`ParameterSpace` says which columns a training set samples: the model's
free parameters, in ``theta`` order (``model.theta_labels()``), plus any fixed
parameter given a range (e.g. ``zred`` over [0, 4] for a model that fixes ``zred``
per galaxy).  A sampler returns an ``(n, ncol)`` array of draws in that order.

Ranges given to the space override a parameter's range: in every sampler an
overridden column is drawn uniformly over its range (log-uniformly where the model's
prior is log-uniform), independent of the other columns.

Two scheduling options reshape the draws to save FSPS time (see ``apply_blocks`` and
``share_spectra``); both keep every column's marginal distribution and only tie
draws together in small groups, which the documentation of each spells out.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from .priordraws import DEFAULT_QUANTILES, check_quantiles, prior_transform_rows, theta_box

#: Parameters that do not change the rest-frame spectrum per unit formed mass
#: (``mass`` only where it is a scalar: the per-bin masses of a non-parametric SFH
#: shape the spectrum through their ratios; see :func:`is_spectrum_invariant`).
SPECTRUM_INVARIANT = ("mass", "zred", "lumdist")


def is_spectrum_invariant(name: str, size: int = 1) -> bool:
    """Whether parameter ``name`` with ``size`` elements leaves the rest-frame spectrum
    per unit formed mass unchanged: ``zred``, ``lumdist``, and ``mass`` when scalar."""
    if name == "mass":
        return int(size) == 1
    return name in SPECTRUM_INVARIANT


def spectrum_state(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Copies of every parameter value that can change the rest-frame spectrum.

    Everything in ``params`` (a Prospector model's ``params``, after its ``depends_on``
    parameters were computed) except the spectrum-invariant parameters.  Two rows
    with equal states have the same rest-frame spectrum per unit formed mass.
    """
    out = {}
    for name, value in params.items():
        v = np.array(value, copy=True)
        if not is_spectrum_invariant(name, v.size):
            out[name] = v
    return out


def same_state(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    """Whether two :func:`spectrum_state` results are equal (same keys, equal values)."""
    return a.keys() == b.keys() and all(_equal(v, b[k]) for k, v in a.items())


def _equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    try:
        return bool(np.array_equal(a, b))
    except (TypeError, ValueError):  # objects that do not compare elementwise
        return False


def parameter_of_label(label: str) -> str:
    """The parameter a theta label belongs to: ``mass_2`` -> ``mass``, ``dust2`` -> ``dust2``."""
    head, sep, tail = label.rpartition("_")
    return head if sep and tail.isdigit() else label


class ParameterSpace:
    """The columns of a training set and their ranges.

    Parameters
    ----------
    model : prospect.models.ProspectorParams
        The Prospector model the training set is generated from.
    ranges : mapping of str to (float, float), optional
        Range overrides by parameter name (or theta label of a vector element).
        A fixed parameter given a range becomes a sampled column.
    """

    def __init__(self, model, ranges: Mapping[str, Sequence[float]] | None = None,
                 quantiles: Sequence[float] = DEFAULT_QUANTILES):
        ranges = dict(ranges or {})
        self.quantiles = check_quantiles(quantiles)
        self.free_labels = list(model.theta_labels())
        self.ndim = len(self.free_labels)
        label_param = {}
        for name, sl in model.theta_index.items():
            for lab in self.free_labels[sl]:
                label_param[lab] = name
        self.extra = []
        for name in ranges:
            param = label_param.get(name, name)
            if callable(model.config_dict.get(param, {}).get("depends_on")):
                func = model.config_dict[param]["depends_on"]
                raise ConfigurationError(
                    f"--range {name}: {param!r} is computed from other parameters by its "
                    f"depends_on function ({getattr(func, '__name__', repr(func))}), which would "
                    "overwrite every drawn value; give ranges to the parameters it depends on, or "
                    "remove depends_on from the model")
            if name in self.free_labels or name in model.theta_index:
                continue
            if name not in model.params:
                raise ConfigurationError(
                    f"--range names {name!r}, which is not a parameter of the model "
                    f"(its parameters: {', '.join(sorted(model.params))})")
            if np.size(model.params[name]) != 1:
                raise ConfigurationError(f"--range {name}: only scalar fixed parameters can be "
                                         "given a range; make vector parameters free instead")
            self.extra.append(name)
        self.names = self.free_labels + self.extra
        self.param_of = {**label_param, **{e: e for e in self.extra}}
        #: per column: a spectrum-invariant parameter (zred, lumdist, scalar mass)
        self.spectrum_invariant = np.array(
            [is_spectrum_invariant(self.param_of[lab], np.size(model.params.get(self.param_of[lab], 0)))
             for lab in self.names], dtype=bool)
        bounds, self.unit_range = theta_box(model, self.quantiles)
        self.bounds = np.zeros((len(self.names), 2))
        self.log = np.zeros(len(self.names), dtype=bool)
        self.overridden = np.zeros(len(self.names), dtype=bool)
        for j, lab in enumerate(self.names):
            param = self.param_of[lab]
            prior = model.config_dict.get(param, {}).get("prior")
            self.log[j] = type(prior).__name__ == "LogUniform"
            if j < self.ndim:
                self.bounds[j] = bounds[j]
            rng_ = ranges.get(lab, ranges.get(param))
            if rng_ is not None:
                lo, hi = (float(v) for v in rng_)
                if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                    raise ConfigurationError(f"range for {lab} must be two finite numbers lo < hi, "
                                             f"got {rng_!r}")
                if self.log[j] and lo <= 0:
                    raise ConfigurationError(f"range for {lab} must be positive: its prior is "
                                             "log-uniform")
                self.bounds[j] = (lo, hi)
                self.overridden[j] = True
                if j < self.ndim:
                    self.unit_range[j] = (0.0, 1.0)
            elif j >= self.ndim:  # pragma: no cover - extras always have a range
                raise AssertionError(lab)
        bad = ~np.all(np.isfinite(self.bounds), axis=1)
        if bad.any():
            names = [n for n, b in zip(self.names, bad) if b]
            raise ConfigurationError(
                f"parameters {names} have unbounded joint priors, which cannot be truncated at "
                f"quantiles one parameter at a time: give them a range, e.g. --range "
                f"{names[0]}=LO,HI")
        self.ranges = {k: [float(v[0]), float(v[1])] for k, v in ranges.items()}
        #: theta columns whose unbounded prior is truncated at ``quantiles``
        self.truncated = [lab for j, lab in enumerate(self.free_labels)
                          if tuple(self.unit_range[j]) != (0.0, 1.0)]

    def index(self, name: str) -> int:
        """Column index of a parameter name or theta label."""
        if name in self.names:
            return self.names.index(name)
        raise ConfigurationError(f"{name!r} is not a sampled parameter (sampled: {self.names})")

    def uniform(self, columns: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform (log-uniform for log columns) draws over the bounds of ``columns``."""
        lo, hi = self.bounds[columns, 0], self.bounds[columns, 1]
        u = rng.uniform(size=(n, len(columns)))
        log = self.log[columns]
        out = lo + u * (hi - lo)
        if log.any():
            llo, lhi = np.log(lo[log]), np.log(hi[log])
            out[:, log] = np.exp(llo + u[:, log] * (lhi - llo))
        return out

    def set_row(self, model, row: np.ndarray) -> np.ndarray:
        """Set the model's fixed columns from ``row``; return the theta part."""
        for j, name in enumerate(self.extra):
            model.params[name] = np.atleast_1d(row[self.ndim + j]).astype(float)
        return np.asarray(row[: self.ndim], dtype=float)

    def config(self) -> dict[str, Any]:
        """JSON description of the columns."""
        out = {"names": self.names, "free": self.free_labels, "extra": self.extra,
               "bounds": self.bounds.tolist(), "log": self.log.tolist(), "ranges": self.ranges}
        if self.truncated:  # only then: older sets (nothing truncated) keep their config
            out["prior_truncation"] = {
                "quantiles": list(self.quantiles),
                "columns": {lab: list(map(float, self.unit_range[self.free_labels.index(lab)]))
                            for lab in self.truncated}}
        return out


class Sampler:
    """Base class: ``draw(space, model, n, rng)`` returns an ``(n, ncol)`` array."""

    def draw(self, space: ParameterSpace, model, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


class PriorSampler(Sampler):
    """Draws from the model's prior: ``model.prior_transform`` of uniform draws, vectorised over
    rows (:func:`prior_transform_rows`).  Joint priors (e.g. Prospector-beta's ``NzSFH``)
    are drawn through their own ``unit_transform``, one row at a time.

    An unbounded prior (Normal, StudentT, the upper side of LogNormal, ...) is drawn
    truncated at the space's quantiles (:attr:`ParameterSpace.quantiles`, default
    0.1% and 99.9%): the unit-cube coordinate is uniform between them, so the draws
    follow the prior renormalised inside the box the training set records.

    Overridden columns (see :class:`ParameterSpace`) are drawn uniformly in their range.
    """

    def draw(self, space, model, n, rng):
        u = rng.uniform(size=(n, space.ndim))
        ur = space.unit_range
        u = ur[:, 0] + u * (ur[:, 1] - ur[:, 0])  # unbounded priors: between the quantiles
        out = np.empty((n, len(space.names)))
        out[:, : space.ndim] = prior_transform_rows(model, u)
        cols = np.flatnonzero(space.overridden)
        if cols.size:
            out[:, cols] = space.uniform(cols, n, rng)
        return out

    def config(self):
        return {"kind": "prior"}


class UniformSampler(Sampler):
    """Uniform over each column's bounds; log-uniform where the prior is log-uniform."""

    def draw(self, space, model, n, rng):
        return space.uniform(np.arange(len(space.names)), n, rng)

    def config(self):
        return {"kind": "uniform"}


class CallableSampler(Sampler):
    """A user distribution: ``func(n, rng, space)`` returning draws.

    The callable returns either an ``(n, ncol)`` array in ``space.names`` order or a
    mapping from every column name to an ``(n,)`` array.  Use only ``rng`` for
    randomness so that a seed reproduces the set.
    """

    def __init__(self, func: Callable, name: str | None = None):
        if not callable(func):
            raise ConfigurationError(f"CallableSampler needs a callable, got {func!r}")
        self.func = func
        self.name = name or f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"

    @classmethod
    def from_spec(cls, spec: str) -> CallableSampler:
        """Build from ``'package.module:function'``."""
        mod, _, attr = spec.partition(":")
        if not mod or not attr:
            raise ConfigurationError(f"sampler callable {spec!r} must look like module:function")
        try:
            func = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"cannot import sampler callable {spec!r}: {exc}") from exc
        return cls(func, name=spec)

    def draw(self, space, model, n, rng):
        res = self.func(n, rng, space)
        if isinstance(res, Mapping):
            missing = [k for k in space.names if k not in res]
            if missing:
                raise ConfigurationError(f"sampler {self.name} returned no values for {missing}")
            res = np.column_stack([np.broadcast_to(np.asarray(res[k], float), (n,)) for k in space.names])
        res = np.asarray(res, dtype=float)
        if res.shape != (n, len(space.names)):
            raise ConfigurationError(f"sampler {self.name} returned shape {res.shape}; expected "
                                     f"{(n, len(space.names))} in the order {space.names}")
        if not np.all(np.isfinite(res)):
            raise ConfigurationError(f"sampler {self.name} returned non-finite values")
        return res

    def config(self):
        return {"kind": "callable", "name": self.name}


class MixtureSampler(Sampler):
    """A mixture: each row comes from one component, chosen with the given weights.

    Parameters
    ----------
    components : sequence of (float, Sampler)
        Weights (normalised here) and samplers, e.g. ``[(0.7, PriorSampler()),
        (0.3, UniformSampler())]`` so that rare corners of parameter space are covered.
    """

    def __init__(self, components: Sequence[tuple[float, Sampler]]):
        if not components:
            raise ConfigurationError("a mixture needs at least one component")
        w = np.array([float(c[0]) for c in components])
        if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ConfigurationError(f"mixture weights must be non-negative with a positive sum, got {w}")
        self.weights = w / w.sum()
        self.samplers = [c[1] for c in components]

    def draw(self, space, model, n, rng):
        which = rng.choice(len(self.samplers), size=n, p=self.weights)
        out = np.empty((n, len(space.names)))
        for k, sampler in enumerate(self.samplers):
            rows = np.flatnonzero(which == k)
            if rows.size:
                out[rows] = sampler.draw(space, model, rows.size, rng)
        return out

    def config(self):
        return {"kind": "mixture", "weights": self.weights.tolist(),
                "components": [s.config() for s in self.samplers]}


def sampler_from_spec(spec: str | Sampler | None) -> Sampler:
    """Parse a command-line sampler: ``prior``, ``uniform``, ``callable:mod:func`` or
    ``mixture:prior=0.7,uniform=0.3`` (components ``prior``, ``uniform`` or
    ``mod:func`` callables)."""
    if isinstance(spec, Sampler):
        return spec
    spec = (spec or "prior").strip()
    if spec == "prior":
        return PriorSampler()
    if spec == "uniform":
        return UniformSampler()
    if spec.startswith("callable:"):
        return CallableSampler.from_spec(spec[len("callable:"):])
    if spec.startswith("mixture:"):
        comps = []
        for part in spec[len("mixture:"):].split(","):
            name, eq, weight = part.rpartition("=")
            if not eq:
                raise ConfigurationError(f"mixture component {part!r} needs a weight: name=weight")
            try:
                weight_value = float(weight)
            except ValueError as exc:
                raise ConfigurationError(f"mixture weight {weight!r} is not a number") from exc
            comps.append((weight_value, sampler_from_spec(name if name in ("prior", "uniform")
                                                          else "callable:" + name)))
        return MixtureSampler(comps)
    raise ConfigurationError(f"unknown sampler {spec!r}: use prior, uniform, callable:module:function "
                             "or mixture:prior=0.7,uniform=0.3")


def apply_blocks(draws: np.ndarray, space: ParameterSpace, block_param: str | None,
                 block_size: int) -> np.ndarray:
    """Share one value of ``block_param`` across consecutive blocks of ``block_size`` rows.

    Row ``i`` takes the value drawn for the first row of its block.  Each column's
    marginal distribution is unchanged (the first row of a block is an ordinary draw),
    but the set holds only ``ceil(n / block_size)`` distinct values of ``block_param``,
    and within a block that parameter is independent of the others (exact for
    Prospector's independent priors; a callable sampler's correlations between it
    and other columns are broken).  FSPS then changes metallicity only between blocks.
    """
    draws = np.array(draws, copy=True)
    if block_param is None or block_size <= 1:
        return draws
    j = space.index(block_param)
    first = (np.arange(len(draws)) // block_size) * block_size
    draws[:, j] = draws[first, j]
    return draws


def share_spectra(draws: np.ndarray, space: ParameterSpace, group: int) -> np.ndarray:
    """Make groups of ``group`` consecutive rows differ only in mass and redshift.

    Within a group, every column except the spectrum-invariant ones (``zred``,
    ``lumdist`` and a scalar ``mass``; the elements of a vector ``mass`` are spectrum
    inputs, see :func:`is_spectrum_invariant`) takes the first row's value, so one
    FSPS rest-frame spectrum serves the whole group and only the (cheap) redshift
    projection is repeated.  Marginals are unchanged; the set holds
    ``ceil(n / group)`` distinct spectra, each seen at ``group`` redshifts.  Models
    whose ``depends_on`` parameters follow ``zred`` or ``mass`` cannot share spectra:
    check with :func:`derived_dependencies` first.
    """
    draws = np.array(draws, copy=True)
    if group <= 1:
        return draws
    cols = np.flatnonzero(~space.spectrum_invariant)
    first = (np.arange(len(draws)) // group) * group
    draws[:, cols] = draws[first][:, cols]
    return draws


def derived_dependencies(model, space: ParameterSpace) -> dict[str, list[str]]:
    """Derived (``depends_on``) parameters that follow a spectrum-invariant column.

    Spectrum sharing (:func:`share_spectra`, and the spectrum reuse of
    :func:`prospect_emu.trainingdata.seds.compute_rows`) assumes rows that differ only in
    ``zred``, ``lumdist`` or a scalar ``mass`` have one rest-frame spectrum.  A
    parameter computed from one of these by its ``depends_on`` function (e.g.
    ``tage`` as a fraction of the age of the universe at ``zred``, or age bins set
    from ``zred``) breaks that.  Found two ways: the function's signature names the
    parameter, or the model's derived values change when only that column moves
    across its range (tried at the model's initial values and at the middle of every
    range, so chains of dependencies count too).  A function that raises counts as
    dependent.  The model's parameters are restored afterwards.

    Returns
    -------
    dict
        Derived parameter name -> the invariant columns (labels) it depends on.
    """
    derived = {name: info["depends_on"] for name, info in model.config_dict.items()
               if callable(info.get("depends_on"))
               and not is_spectrum_invariant(name, np.size(model.params.get(name, 0)))}
    inv = [j for j in np.flatnonzero(space.spectrum_invariant)]
    found: dict[str, set[str]] = {}
    if not derived or not inv:
        return {}
    for name, func in derived.items():
        try:
            args = inspect.signature(func).parameters
        except (TypeError, ValueError):
            args = {}
        for j in inv:
            if space.param_of[space.names[j]] in args:
                found.setdefault(name, set()).add(space.names[j])
    saved = copy.deepcopy(model.params)

    def restore():
        model.params.clear()
        model.params.update(copy.deepcopy(saved))

    try:
        theta_init = np.array(model.theta, dtype=float)
        mid = space.bounds.mean(axis=1)
        bases = [np.concatenate([theta_init, mid[space.ndim:]]), mid]
        for j in inv:
            lab = space.names[j]
            for base in bases:
                states = []
                for value in (space.bounds[j, 0], mid[j], space.bounds[j, 1]):
                    restore()
                    row = np.array(base, dtype=float)
                    row[j] = value
                    try:
                        theta = space.set_row(model, row)
                        model.set_parameters(theta)
                        states.append(spectrum_state(model.params))
                    except Exception:
                        for name in derived:
                            found.setdefault(name, set()).add(lab)
                        break
                for other in states[1:]:
                    for name in derived:
                        if not _equal(states[0].get(name), other.get(name)):
                            found.setdefault(name, set()).add(lab)
    finally:
        restore()
    return {k: sorted(v) for k, v in found.items()}
