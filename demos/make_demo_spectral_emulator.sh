#!/usr/bin/env bash
# Regenerate the bundled SPECTRAL demo emulator (prospect_emu/data/demo_spectral_emulator) with
# the package's own commands: 100,000 FSPS rest-frame spectra of the demo model (prior draws,
# zred over [0, 3], one spectrum per row: the spectral kind learns the rest-frame spectrum and
# applies zred exactly, so rows that share a spectrum would add nothing), then a PCA of the log
# spectra (the components whose median reconstruction error on the validation spectra is
# <= 0.11%) and a 4 x 256 network predicting their coefficients, with its loss in log flux
# weighted by scale**0.5 per pixel (--pixel-weight-power 0.5, the default: a standardised loss left the
# rest-frame UV, whose log flux spreads 4-5x wider than the near-IR's, the least accurate);
# then its accuracy on an independent FSPS set (5,000 prior draws, another seed, no spectrum
# sharing) recorded in the artifact (prospect-emu info).
# Needs python-fsps and SPS_HOME (the shared BaSTI + BT-Settl test tree).
# Measured on the 2-core development machine, TensorFlow on one thread (a second training ran
# on the other core):
#   training set 6.6 min wall (628 CPU-s, two workers), independent set 1.6 min wall,
#   training 42 min wall (551 passes, ended by --max-minutes 42 in the fourth stage, with its
#   best weights), validation 0.5 min: about 52 minutes in all.
# The spectral kind trains in passes (--epochs/--patience); --steps, --decay and step-counted
# --schedule stages are the photometric kind's recipe only. --max-minutes ends the training at
# the first pass past the budget, with the best weights.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPS_HOME:?set SPS_HOME to an FSPS data tree}"
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
mkdir -p work-out
prospect-emu generate prospect_emu/data/demo_params.py --out work-out/spec_train.h5 --n 100000 \
    --range zred=0,3 --store-spectrum --share-spectrum 1 --seed 131 --chunk-size 500 --workers 2 \
    --overwrite --quiet
prospect-emu generate prospect_emu/data/demo_params.py --out work-out/spec_indep.h5 --n 5000 \
    --range zred=0,3 --sampler prior --store-spectrum --share-spectrum 1 --seed 4244 \
    --chunk-size 250 --workers 2 --overwrite --quiet
prospect-emu train work-out/spec_train.h5 --out prospect_emu/data/demo_spectral_emulator \
    --kind spectrum --pca-tolerance 0.0011 --width 256 --depth 4 --seed 1 --no-keras --quiet \
    --schedule 2e-3:256,5e-4:512,1e-4:1024,3e-5:2048 --epochs 300 --patience 40 --max-minutes 42 \
    --pixel-weight-power 0.5 \
    --provenance "FSPS via python-fsps 0.5.0 on the shared test tree: BaSTI isochrones, a BT-Settl stellar library resampled onto the C3K grid, no nebular emission. For demonstration, not for science."
prospect-emu validate prospect_emu/data/demo_spectral_emulator work-out/spec_indep.h5 \
    --report work-out/spec_validate --record
prospect-emu info prospect_emu/data/demo_spectral_emulator
