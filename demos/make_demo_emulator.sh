#!/usr/bin/env bash
# Regenerate the bundled demo emulator (prospect_emu/data/demo_emulator) with the package's own
# commands: 20,000 FSPS SEDs of the demo model, zred over [0, 3], then a 4 x 128 network.
# Needs python-fsps and SPS_HOME (the shared BaSTI + BT-Settl test tree). About 1 + 9 minutes
# on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPS_HOME:?set SPS_HOME to an FSPS data tree}"
mkdir -p work-out
prospect-emu generate prospect_emu/data/demo_params.py --out work-out/demo_train.h5 --n 20000 \
    --range zred=0,3 --sampler mixture:prior=0.8,uniform=0.2 --share-spectrum 4 --seed 2023 \
    --chunk-size 200 --overwrite --quiet
prospect-emu train work-out/demo_train.h5 --out prospect_emu/data/demo_emulator \
    --width 128 --depth 4 --seed 1 --no-keras --quiet \
    --provenance "FSPS via python-fsps 0.5.0 on the shared test tree: BaSTI isochrones, a BT-Settl stellar library resampled onto the C3K grid, no nebular emission. For demonstration, not for science."
prospect-emu info prospect_emu/data/demo_emulator
