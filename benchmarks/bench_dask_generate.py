"""A large training set generated on a real Dask cluster, killed part-way and resumed, its
rows checked against a local run.

    SPS_HOME=... python benchmarks/bench_dask_generate.py --out big.h5 \\
        [--workers 2] [--kill-at 0.1] [--check-chunks 4] -- GENERATE-ARGS

GENERATE-ARGS are ``prospect-emu generate``'s (default: the bundled alpha-class file,
``--n 1000000 --chunk-size 500``).  The script starts ``dask scheduler`` and ``--workers``
``dask worker --nworkers 1 --nthreads 1`` processes as a user would (they inherit this
shell's SPS_HOME), runs ``prospect-emu generate ... --dask-scheduler ADDRESS``, kills it
(SIGKILL) once ``--kill-at`` of the chunks are written, and continues with the same command
plus ``--resume``.  Then it checks the finished file against a local ``--workers 1`` run of
the same options: every parameter row (drawn from the seed alone here), and the photometry,
mass fractions and statuses of the first ``--check-chunks`` chunks and of as many from the
end, bit for bit (those chunks marked pending in a copy of the file and computed again by
``generate --resume --workers 1``).  Prints a table: wall seconds and SEDs per second of
each phase, SEDs per worker-second, rows checked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_GENERATE = [str(ROOT / "prospect_emu" / "data" / "alpha_params.py"),
                    "--n", "1000000", "--chunk-size", "500"]


def _done_chunks(path: Path) -> tuple[int, int]:
    """(chunks written, chunks in all); (0, 0) before the file exists or while it is busy."""
    from prospect_emu.trainingdata.trainingset import h5py

    try:
        with h5py.File(path, "r") as f:
            done = f["chunk_done"][...]
        return int(done.sum()), int(done.size)
    except (OSError, KeyError):
        return 0, 0


def _chunk_size(path: Path) -> int:
    from prospect_emu.trainingdata.trainingset import h5py

    with h5py.File(path, "r") as f:
        return int(f.attrs["chunk_size"])


def _run_until(cmd: list[str], out: Path, kill_at: float | None) -> tuple[float, int]:
    """Run ``cmd``; with ``kill_at``, SIGKILL it once that fraction of chunks is written.
    (wall seconds, exit code or -9)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:   # a file, not a pipe: a long run's warnings never block it
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            time.sleep(0.5)
            done, total = _done_chunks(out)
            if kill_at is not None and total and done >= kill_at * total:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return time.perf_counter() - t0, -9
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()[-3000:]}")
    return time.perf_counter() - t0, proc.returncode


def _local_params(generate_args: list[str]) -> np.ndarray:
    """Every parameter row of a local run of the same options (drawn, none computed)."""
    from prospect_emu.cli import build_parser
    from prospect_emu.options import from_args
    from prospect_emu.paramfile import prospector_run_params
    from prospect_emu.trainingdata.generate import generate
    from prospect_emu.trainingdata.generate_config import GenerateConfig
    from prospect_emu.trainingdata.trainingset import TrainingSet

    args, extra = build_parser().parse_known_args(["generate", *generate_args, "--out", "x.h5"])
    config = replace(from_args(GenerateConfig, args), workers=1, dask_scheduler=None)
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "local.h5"
        generate(ref, config=config, param_file=args.param_file,
                 run_params=prospector_run_params(extra), progress=False, max_chunks=0)
        return TrainingSet(ref).params


def _recompute_here(out: Path, chunks: list[int], generate_args: list[str]) -> int:
    """Mark ``chunks`` pending in a copy of ``out``, compute them with a local ``--resume
    --workers 1`` run, and compare with the cluster's rows; rows compared."""
    from prospect_emu.trainingdata.trainingset import TrainingSet, h5py

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.h5"
        shutil.copyfile(out, copy)
        with h5py.File(copy, "r+") as f:
            f["chunk_done"][chunks] = False
        cmd = [sys.executable, "-m", "prospect_emu.cli", "generate", *generate_args, "--out",
               str(copy), "--quiet", "--resume", "--workers", "1"]
        _run_until(cmd, copy, None)
        a, b = TrainingSet(copy), TrainingSet(out)
        cs = _chunk_size(out)
        rows = np.concatenate([np.arange(c * cs, min((c + 1) * cs, len(b.params))) for c in chunks])
        for name in ("phot", "mfrac", "status"):
            np.testing.assert_array_equal(getattr(a, name)[rows], getattr(b, name)[rows], err_msg=name)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, generate_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2, help="dask worker processes")
    ap.add_argument("--kill-at", type=float, default=0.1, help="fraction of chunks, then SIGKILL")
    ap.add_argument("--check-chunks", type=int, default=4)
    args = ap.parse_args(ours)
    if not os.environ.get("SPS_HOME"):
        sys.exit("export SPS_HOME (the dask workers inherit it) and run again")
    if args.out.exists():
        sys.exit(f"{args.out} exists: remove it, or name another --out")
    from tests.dask_processes import local_cluster

    generate_args = generate_args or DEFAULT_GENERATE
    cmd = [sys.executable, "-m", "prospect_emu.cli", "generate", *generate_args,
           "--out", str(args.out), "--quiet"]
    with tempfile.TemporaryDirectory() as logs, local_cluster(args.workers, Path(logs)) as address:
        first, code = _run_until(cmd + ["--dask-scheduler", address], args.out, args.kill_at)
        killed_at = _done_chunks(args.out)
        second, _ = _run_until(cmd + ["--dask-scheduler", address, "--resume"], args.out, None)
    done, total = _done_chunks(args.out)
    from prospect_emu.trainingdata.trainingset import OK, TrainingSet

    ts = TrainingSet(args.out)
    n = len(ts.params)
    n_first = min(killed_at[0] * _chunk_size(args.out), n)
    np.testing.assert_array_equal(ts.params, _local_params(generate_args), err_msg="parameter rows")
    k = args.check_chunks
    checked = _recompute_here(args.out, sorted(set(range(k)) | set(range(total - k, total))),
                              generate_args)
    print(f"{' '.join(generate_args)} on {args.workers} dask workers")
    print(f"{'phase':34s} {'wall s':>9s} {'SEDs':>9s} {'SEDs/s':>8s}")
    print(f"{'run, killed (chunks ' + f'{killed_at[0]}/{total})':34s} {first:9.1f} {n_first:9d} "
          f"{n_first / first:8.1f}")
    print(f"{'--resume':34s} {second:9.1f} {n - n_first:9d} {(n - n_first) / second:8.1f}")
    print(f"all: {n} rows, {int(np.sum(ts.status == OK))} ok, complete {done == total}; "
          f"{n / (first + second) / args.workers:.1f} SEDs per worker-second"
          + ("" if code == -9 else "; the first run ended before the kill"))
    print(f"identical to a local run: every parameter row and {checked} computed rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
