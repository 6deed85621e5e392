#!/usr/bin/env bash
# Regenerate the bundled SPECTRAL demo emulator (prospect_emu/data/demo_spectral_emulator) with
# the package's own commands: 60,000 FSPS rows of the demo model (prior draws, zred over [0, 3];
# 15,000 rest-frame spectra, each seen at 4 redshifts, which costs nothing for the spectral kind:
# it learns the rest-frame spectrum and applies zred exactly), then a PCA of the log spectra
# (the components whose median reconstruction error on the validation spectra is <= 0.11%)
# and a 4 x 256 network predicting their coefficients; then its accuracy on an independent
# FSPS set (another seed, no spectrum sharing) recorded in the artifact (prospect-emu info).
# Needs python-fsps and SPS_HOME (the shared BaSTI + BT-Settl test tree).
# Measured on the 2-core development machine while shared with three other developers
# (load average ~6), TensorFlow on one thread:
#   training set 10.3 min wall (4.1 CPU-minutes, one worker), independent set 4.7 min wall
#   (0.8 CPU-minutes), training 10.0 min wall (7.3 CPU-minutes; 660 passes, 9.5 min in the
#   optimizer), validation 0.2 min; about 25 minutes in all.
# The spectral kind trains in passes (--epochs/--patience); --steps, --decay and step-counted
# --schedule stages are the photometric kind's recipe only.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPS_HOME:?set SPS_HOME to an FSPS data tree}"
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
mkdir -p work-out
prospect-emu generate prospect_emu/data/demo_params.py --out work-out/spec_train.h5 --n 60000 \
    --range zred=0,3 --store-spectrum --share-spectrum 4 --seed 31 --chunk-size 400 --workers 1 \
    --overwrite --quiet
prospect-emu generate prospect_emu/data/demo_params.py --out work-out/spec_indep.h5 --n 2000 \
    --range zred=0,3 --sampler prior --store-spectrum --share-spectrum 1 --seed 4243 \
    --chunk-size 250 --workers 1 --overwrite --quiet
prospect-emu train work-out/spec_train.h5 --out prospect_emu/data/demo_spectral_emulator \
    --kind spectrum --pca-tolerance 0.0011 --width 256 --depth 4 --seed 1 --no-keras --quiet \
    --schedule 2e-3:256,5e-4:512,1e-4:1024 --epochs 220 --patience 40 --max-minutes 30 \
    --provenance "FSPS via python-fsps 0.5.0 on the shared test tree: BaSTI isochrones, a BT-Settl stellar library resampled onto the C3K grid, no nebular emission. For demonstration, not for science."
prospect-emu validate prospect_emu/data/demo_spectral_emulator work-out/spec_indep.h5 \
    --report work-out/spec_validate --record
prospect-emu info prospect_emu/data/demo_spectral_emulator
