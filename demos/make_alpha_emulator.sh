#!/usr/bin/env bash
# Regenerate the bundled Prospector-alpha-class emulator (prospect_emu/data/alpha_emulator) from
# scratch with the package's own commands: 300,000 FSPS SEDs drawn from the priors of
# prospect_emu/data/alpha_params.py (14 free parameters, 19 bands GALEX FUV to MIPS 24, zred 1;
# the Student-t priors of the continuity SFH drawn from the prior itself, cut at the
# 0.1%/99.9% quantiles), then a 4 x 512 network on a step-counted schedule.
# Needs python-fsps and SPS_HOME (the shared BaSTI + BT-Settl test tree).
# Measured on the 2-core development machine (one worker / one training thread each, the other
# core busy): generation 6.0 min (357 s, 840 SEDs per second); training 25.1 min (100,000 steps,
# the stages ended by their patience inside the budget); the independent test set 15 s and
# validation 3 s: about 32 minutes in all.
# On 2,000 independent FSPS draws (another seed, no blocks): all bands p95 0.015 mag; u 0.022,
# g to IRAC 4 <= 0.016, FUV 0.043, NUV 0.023, W3/W4/MIPS 24 <= 0.016; log10 mfrac 0.0003 dex.
# The same data on 4 x 256 (--schedule 1e-3:256:60000,5e-4:512:40000,1e-4:1024:30000, 14.7 min):
# all bands 0.023, FUV 0.060, u 0.031
# (docs/accuracy.rst, with the learning curves).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SPS_HOME:?set SPS_HOME to an FSPS data tree}"
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1
mkdir -p work-out
prospect-emu generate prospect_emu/data/alpha_params.py --out work-out/alpha_train.h5 \
    --n 300000 --seed 1 --chunk-size 500 --workers 1 --overwrite --quiet
prospect-emu train work-out/alpha_train.h5 --out prospect_emu/data/alpha_emulator \
    --width 512 --depth 4 --seed 1 --no-keras --quiet \
    --schedule 1e-3:256:80000,5e-4:512:30000,1e-4:1024:10000 --decay cosine --eval-every 1000 \
    --patience-steps 10000 --max-minutes 55 \
    --provenance "prospect-emu bundled Prospector-alpha-class demo emulator: 300,000 prior draws of prospect_emu/data/alpha_params.py (seed 1) with FSPS + BaSTI + BT-Settl test libraries, no nebular emission; for demonstration, not for science"
# Accuracy on an independent set (another seed, no metallicity blocks), recorded in the
# emulator so that prospect-emu info prints it:
prospect-emu generate prospect_emu/data/alpha_params.py --out work-out/alpha_test.h5 --n 2000 \
    --seed 777 --block-size 1 --workers 1 --overwrite --quiet
prospect-emu validate prospect_emu/data/alpha_emulator work-out/alpha_test.h5 \
    --report work-out/alpha_validation --obs-unc 0.05 --record
prospect-emu info prospect_emu/data/alpha_emulator --test work-out/alpha_test.h5
