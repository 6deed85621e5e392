"""Inference speed of the numpy forward pass, against a bare matmul chain, Keras and FSPS.

Usage:  python benchmarks/bench_inference.py [EMU_DIR] [--threads 1]

Without EMU_DIR a 4 x 128 Alsing network with random weights (5 inputs, 16 outputs) is
timed.  Prints a table; FSPS (a Prospector SpecModel.predict at fixed metallicity) and
keras.Model.predict are timed in the same run where available.
"""

from __future__ import annotations

import argparse
import os
import sys


def _setup_threads() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("emulator", nargs="?")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=10000)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    return args


ARGS = _setup_threads()

import timeit  # noqa: E402

import numpy as np  # noqa: E402

from prospect_emu.emulator.artifact import SCHEMA_VERSION, Emulator  # noqa: E402


def random_emulator(n_in=5, n_out=16, width=128, depth=4, seed=0) -> Emulator:
    rng = np.random.default_rng(seed)
    weights, layers = {}, []
    n = n_in
    for k in range(depth):
        weights[f"W{k}"] = rng.normal(0, 1 / np.sqrt(n), (n, width)).astype("f4")
        weights[f"b{k}"] = rng.normal(0, 0.1, width).astype("f4")
        weights[f"alpha{k}"] = rng.normal(1, 0.1, width).astype("f4")
        weights[f"beta{k}"] = rng.normal(0, 0.1, width).astype("f4")
        layers += [{"type": "dense", "W": f"W{k}", "b": f"b{k}"},
                   {"type": "alsing", "alpha": f"alpha{k}", "beta": f"beta{k}"}]
        n = width
    weights["Wo"] = rng.normal(0, 1 / np.sqrt(n), (n, n_out)).astype("f4")
    weights["bo"] = np.zeros(n_out, "f4")
    layers.append({"type": "dense", "W": "Wo", "b": "bo"})
    names = [f"p{i}" for i in range(n_in)]
    meta = {"schema_version": SCHEMA_VERSION, "layers": layers,
            "inputs": {"names": names, "log10": [False] * n_in, "lo": [-1] * n_in, "hi": [1] * n_in},
            "outputs": {"filter_names": [f"b{i}" for i in range(n_out - 1)],
                        "softening": [1e-10] * (n_out - 1), "mean": [0] * n_out, "std": [1] * n_out},
            "network": {"width": width, "depth": depth, "activation": "alsing"}}
    return Emulator(meta, weights)


def best(stmt, number, repeat=7):
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number


def main() -> None:
    emu = Emulator.load(ARGS.emulator) if ARGS.emulator else random_emulator()
    net = emu.meta["network"]
    x1 = 0.5 * (emu.inputs.raw_lo + emu.inputs.raw_hi)
    rng = np.random.default_rng(1)
    xb = emu.inputs.raw_lo + rng.uniform(size=(ARGS.batch, len(x1))) * (emu.inputs.raw_hi - emu.inputs.raw_lo)
    dense = [(a, b) for kind, a, b in emu._layers if kind == "dense"]
    xs_b = emu.inputs(xb).astype("f4")
    xs_1 = xs_b[0].copy()

    def chain(x):
        for w, b in dense:
            x = x @ w
            x += b
        return x

    rows = []
    t_one = best(lambda: emu.predict_one(x1), 2000)
    rows.append(("predict_one, 1 vector (likelihood hot path)", t_one * 1e6, "us"))
    rows.append(("predict, 1 vector (full API)", best(lambda: emu.predict(x1), 1000) * 1e6, "us"))
    rows.append(("bare matmul chain, 1 vector", best(lambda: chain(xs_1), 2000) * 1e6, "us"))
    t_b = best(lambda: emu.forward(xs_b), 5, 5)
    t_c = best(lambda: chain(xs_b), 5, 5)
    rows.append((f"forward pass, batch {ARGS.batch}", ARGS.batch / t_b / 1e6, "M vectors/s"))
    rows.append((f"bare matmul chain, batch {ARGS.batch}", ARGS.batch / t_c / 1e6, "M vectors/s"))
    rows.append(("batched throughput / bare chain", t_c / t_b, "ratio"))
    try:
        import keras  # noqa: F401

        from prospect_emu.network.architecture import build_network

        model = build_network(len(x1), len(emu.outputs.mean), net["width"], net["depth"], "alsing")
        model.predict(xs_b[:1], verbose=0)
        rows.append(("keras.Model.predict, 1 vector", best(lambda: model.predict(xs_b[:1], verbose=0), 20, 3) * 1e6, "us"))
    except ImportError:
        pass
    t_fsps = None
    if os.environ.get("SPS_HOME"):
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "data"))
        import delayed_tau_params as pf
        from sedpy.observate import load_filters

        model = pf.build_model(fixed_metallicity=-0.3)
        sps = pf.build_sps()
        obs = {"filters": load_filters(["sdss_g0", "sdss_r0", "sdss_i0", "twomass_Ks"]),
               "wavelength": None, "spectrum": None}
        theta = model.theta.copy()
        model.predict(theta, obs=obs, sps=sps)
        thetas = [theta * (1 + 0.01 * rng.normal(size=theta.size)) for _ in range(50)]
        it = iter(thetas * 1000)
        t_fsps = best(lambda: model.predict(next(it), obs=obs, sps=sps), 20, 3)
        rows.append(("FSPS SpecModel.predict (fixed Z), 1 vector", t_fsps * 1e6, "us"))
        rows.append(("FSPS / predict_one", t_fsps / t_one, "ratio"))
    print(f"numpy {np.__version__}, {ARGS.threads} thread(s), network {net['depth']} x {net['width']} "
          f"{net['activation']}, {len(x1)} inputs, {len(emu.outputs.mean)} outputs")
    print(f"{'measurement':48s} {'value':>12s}  unit")
    for name, v, unit in rows:
        print(f"{name:48s} {v:12.3f}  {unit}")


if __name__ == "__main__":
    main()
