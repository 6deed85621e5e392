#!/usr/bin/env bash
# Tutorial 6 (demos/06_alpha_model.md): a Prospector-alpha-like parameter file, 14 free
# parameters (15 with --fit_redshift), from FSPS training data to an emulated fit and a
# side-by-side with FSPS.  Needs python-fsps and SPS_HOME.  One core throughout.
# Each step's time is printed (wall and CPU); the tutorial lists what they were here.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPS_HOME:?set SPS_HOME to an FSPS data tree}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 \
    TF_NUM_INTEROP_THREADS=1
PARAMS=tests/data/outside_alpha_params.py
OUT=${OUT:-work-out/alpha}
N=${N:-5000}
MINUTES=${MINUTES:-3}
mkdir -p "$OUT"
step() { local name=$1; shift; echo "== $name: $*"; /usr/bin/time -f "== $name: %e s wall, %U s user + %S s sys" "$@"; }

# 1. FSPS training set: draws from the file's own priors (Student-t ratios, LogUniform AGN,
#    ClippedNormal dust ratio), unbounded ones cut at the 0.1% and 99.9% quantiles.
step generate prospect-emu generate "$PARAMS" --out "$OUT/train.h5" --n "$N" --seed 1 \
    --workers 1 --chunk-size 250 --overwrite --quiet
# 2. The network, under a time budget.
step train prospect-emu train "$OUT/train.h5" --out "$OUT/emu" --seed 1 --max-minutes "$MINUTES" \
    --quiet
prospect-emu info "$OUT/emu"
# 3. The file's galaxy fitted through the emulator, no FSPS needed; the sampler is chosen by
#    the number of free parameters (14 here: nautilus, preset wide) and printed.
step fit prospect-emu fit "$PARAMS" --emulator "$OUT/emu" --outfile "$OUT/fit_emu"
# 4. The same galaxy fitted with FSPS and with the emulator, same sampler and seed, side by side.
step compare prospect-emu compare "$PARAMS" --emulator "$OUT/emu" --out "$OUT/compare"
