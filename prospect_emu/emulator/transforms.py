"""Input and output transforms shared by training (Keras) and inference (numpy).

Inputs: each parameter is mapped to [-1, 1] over its training bounds, after log10
for parameters with log-uniform priors (tau, ...).  Mass is never an input: outputs
are per unit formed mass, and mass enters analytically.  Ratio inputs follow: for a
pair of inputs (``tage``, ``tau``) the network also sees ``min(tage / tau, cap)`` mapped
from [0, cap] to [-1, 1], a coordinate in which a fading exponential star-formation
history is smooth (:meth:`InputTransform.ratio_features`).

Outputs: per band an asinh magnitude (Lupton et al. 1999) of the photometry per unit
formed mass at 10 pc, ``mu = -2.5/ln10 * (asinh(f / 2b) + ln b)``, with a softening
``b`` per band; for ``f >> b`` it equals ``-2.5 log10 f``, and it stays finite as f
goes to 0.  Then ``log10(mfrac)``.  All outputs are centred and scaled: ``log10(mfrac)``
standardised, the bands each standardised or by scales that set their weight in the
training loss (:meth:`OutputTransform.fit`, ``band_weight_power``).  The artifact stores
the scales, so inference is the same whatever the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LN10_25 = np.log(10.0) / 2.5


def asinh_mag(flux: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Asinh magnitude of ``flux`` (maggies) with softening ``soft`` (maggies)."""
    return -(np.arcsinh(flux / (2.0 * soft)) + np.log(soft)) / LN10_25


def asinh_flux(mag: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Inverse of :func:`asinh_mag`."""
    return 2.0 * soft * np.sinh(-mag * LN10_25 - np.log(soft))


#: :func:`band_softening`'s references
SOFTENING_REFERENCES = ("band", "peak")


def band_softening(phot: np.ndarray, fraction: float = 1e-4, reference: str = "band") -> np.ndarray:
    """Each band's asinh softening (maggies) from training photometry ``phot`` (N, n_bands).

    ``reference="band"``: ``fraction`` times the band's median flux.  A band that drops out
    in most rows (below the Lyman limit over a free redshift) then gets a softening far below
    any flux a catalogue measures, and its asinh magnitude spans tens of magnitudes of
    fluxes that are zero for every purpose.  ``"peak"``: ``fraction`` times the median over
    rows of each row's brightest band, the same for every band: fluxes ``-2.5 log10
    fraction`` magnitudes (10 for 1e-4) below a typical SED's peak are compressed, whichever
    band they fall in.  Non-positive results become 1e-30.
    """
    phot = np.asarray(phot, dtype=float)
    if reference == "band":
        soft = fraction * np.median(phot, axis=0)
    elif reference == "peak":
        soft = np.full(phot.shape[1], fraction * np.median(phot.max(axis=1)))
    else:
        from ..errors import ConfigurationError

        raise ConfigurationError(f"softening reference {reference!r}: choose "
                                 f"{' or '.join(SOFTENING_REFERENCES)}")
    return np.where(soft > 0, soft, 1e-30)


def dflux_dmag(flux: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """d(flux)/d(asinh mag) at ``flux``: ``-(ln10/2.5) * sqrt(flux**2 + 4 soft**2)``."""
    return -LN10_25 * np.sqrt(flux * flux + 4.0 * soft * soft)


@dataclass
class InputTransform:
    """Maps parameters to the network's [-1, 1] inputs.

    ``ratios``: ``(numerator, denominator, cap)`` per ratio input, indices into ``names``
    (see the module notes); the network's inputs are the scaled parameters, then these.
    """

    names: list[str]
    log: np.ndarray      # bool per input: log10 before scaling
    lo: np.ndarray       # bounds in the (log) space, per input
    hi: np.ndarray
    ratios: list[tuple[int, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = np.asarray(self.log, dtype=bool)
        self.lo = np.asarray(self.lo, dtype=float)
        self.hi = np.asarray(self.hi, dtype=float)
        self.center = 0.5 * (self.lo + self.hi)
        self.inv_half = 2.0 / (self.hi - self.lo)
        self.log_idx = np.flatnonzero(self.log)
        self.raw_lo = np.where(self.log, 10.0 ** self.lo, self.lo)
        self.raw_hi = np.where(self.log, 10.0 ** self.hi, self.hi)
        self.ratios = [(int(a), int(b), float(c)) for a, b, c in self.ratios]
        for a, b, cap in self.ratios:
            if not (0 <= a < len(self.names) and 0 <= b < len(self.names) and a != b and cap > 0
                    and self.raw_lo[a] > 0 and self.raw_lo[b] > 0):
                raise ValueError(f"bad ratio input ({a}, {b}, {cap}) for inputs {self.names}: "
                                 "two different inputs with positive bounds and a cap > 0")

    @property
    def n_network(self) -> int:
        """The network's input width: the parameters, then the ratio inputs."""
        return len(self.names) + len(self.ratios)

    @property
    def ratio_names(self) -> list[str]:
        return [f"{self.names[a]}/{self.names[b]}" for a, b, _ in self.ratios]

    @classmethod
    def from_bounds(cls, names, raw_lo, raw_hi, log, ratios=()) -> InputTransform:
        raw_lo, raw_hi = np.asarray(raw_lo, float), np.asarray(raw_hi, float)
        log = np.asarray(log, bool)
        lo = np.where(log, np.log10(np.where(log, raw_lo, 1.0)), raw_lo)
        hi = np.where(log, np.log10(np.where(log, raw_hi, 1.0)), raw_hi)
        return cls(list(names), log, lo, hi, list(ratios))

    def ratio_features(self, x: np.ndarray) -> np.ndarray:
        """The ratio inputs, scaled, for raw parameters ``x`` (..., n_in): per ratio
        ``2 min(x_a / x_b, cap) / cap - 1``."""
        x = np.asarray(x, dtype=float)
        out = np.empty(x.shape[:-1] + (len(self.ratios),))
        with np.errstate(divide="ignore", invalid="ignore"):
            for k, (a, b, cap) in enumerate(self.ratios):
                out[..., k] = np.minimum(x[..., a] / x[..., b], cap) * (2.0 / cap) - 1.0
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=float, copy=True)
        extra = self.ratio_features(x) if self.ratios else None
        if self.log_idx.size:
            x[..., self.log_idx] = np.log10(x[..., self.log_idx])
        s = (x - self.center) * self.inv_half
        return s if extra is None else np.concatenate([s, extra], axis=-1)

    def out_of_bounds(self, x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Boolean array, True where a raw parameter lies outside the training bounds."""
        span = self.raw_hi - self.raw_lo
        return (x < self.raw_lo - tol * span) | (x > self.raw_hi + tol * span)

    def to_json(self) -> dict:
        d = {"names": self.names, "log10": self.log.tolist(), "lo": self.lo.tolist(),
             "hi": self.hi.tolist(), "raw_lo": self.raw_lo.tolist(), "raw_hi": self.raw_hi.tolist()}
        if self.ratios:
            # positions (what the network was trained on) decide; the names are labels
            d["ratios"] = [{"numerator": self.names[a], "denominator": self.names[b],
                            "numerator_index": a, "denominator_index": b, "cap": cap}
                           for a, b, cap in self.ratios]
        return d

    @classmethod
    def from_json(cls, d: dict) -> InputTransform:
        names = list(d["names"])
        ratios = []
        for r in d.get("ratios", []):
            if "numerator_index" in r:
                a, b = int(r["numerator_index"]), int(r["denominator_index"])
            elif r["numerator"] in names and r["denominator"] in names:
                a, b = names.index(r["numerator"]), names.index(r["denominator"])
            else:
                raise ValueError(f"ratio input {r} names a parameter that is not an input ({names})")
            ratios.append((a, b, float(r["cap"])))
        return cls(names, d["log10"], d["lo"], d["hi"], ratios)


@dataclass
class OutputTransform:
    """Per-band asinh magnitudes and log10(mfrac), standardised."""

    filter_names: list[str]
    softening: np.ndarray   # maggies per band
    mean: np.ndarray        # per output (bands, then log10 mfrac)
    std: np.ndarray

    def __post_init__(self) -> None:
        self.softening = np.asarray(self.softening, float)
        self.mean = np.asarray(self.mean, float)
        self.std = np.asarray(self.std, float)

    @classmethod
    def fit(cls, filter_names, phot: np.ndarray, mfrac: np.ndarray,
            softening_fraction: float = 1e-4, band_weight_power: float = 0.0,
            softening_reference: str = "band") -> OutputTransform:
        """Choose softening (:func:`band_softening`) and the output scales.

        Parameters
        ----------
        filter_names : sequence of str
        phot : ndarray (N, n_bands)
            Photometry per unit formed mass, maggies.
        mfrac : ndarray (N,)
        softening_fraction, softening_reference : float, str
            Softening of each band's asinh magnitude: a fraction of its median flux
            (``"band"``) or of the median brightest band (``"peak"``); :func:`band_softening`.
        band_weight_power : float
            How the bands' magnitudes are scaled for the network, which sets their weights
            in a mean-squared-error loss: band ``b`` is divided by
            ``scale_b = C * std_b**(1 - p)``, so its magnitude errors weigh
            ``std_b**(2p)`` relative to a standardised band.  ``p = 0``: each band
            standardised (the loss tolerates larger magnitude errors in bands that span
            more magnitudes, such as the UV); ``p = 1``: one common scale, the loss is in
            magnitudes and every band's magnitude error counts the same.  ``C`` makes the
            mean variance over the bands 1.  log10(mfrac) is always standardised.
        """
        if not 0.0 <= float(band_weight_power) <= 1.0:
            from ..errors import ConfigurationError

            raise ConfigurationError(f"band_weight_power {band_weight_power} lies outside [0, 1]: "
                                     "0 standardises each band, 1 puts the loss in magnitudes")
        soft = band_softening(phot, softening_fraction, softening_reference)
        y = np.column_stack([asinh_mag(phot, soft), np.log10(mfrac)])
        std = y.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        p = float(band_weight_power)
        if p > 0:
            sb = std[:-1]
            std = std.copy()
            std[:-1] = np.sqrt(np.mean(sb ** (2 * p))) * sb ** (1 - p)
        return cls(list(filter_names), soft, y.mean(axis=0), std)

    def encode(self, phot: np.ndarray, mfrac: np.ndarray) -> np.ndarray:
        y = np.column_stack([asinh_mag(phot, self.softening), np.log10(mfrac)])
        return (y - self.mean) / self.std

    def decode_mags(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised outputs -> (asinh mags per band, log10 mfrac)."""
        y = z * self.std + self.mean
        return y[..., :-1], y[..., -1]

    def to_json(self) -> dict:
        return {"filter_names": self.filter_names, "softening": self.softening.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist(), "magnitudes": "asinh"}

    @classmethod
    def from_json(cls, d: dict) -> OutputTransform:
        return cls(list(d["filter_names"]), d["softening"], d["mean"], d["std"])
