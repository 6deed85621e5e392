#!/usr/bin/env bash
# Regenerate the bundled amortized posterior of the demo model for the spectral demo emulator
# (prospect_emu/data/demo_spectral_posterior), the demo's default, with the package's own
# command: 1,000,000 galaxies simulated from the demo model's prior through the spectral demo
# emulator at zred 0.2-2.5 (on a 0.001 grid; scattered by the emulator's held-out residual
# covariance, S/N 5-100 per galaxy, 10% of bands missing), then a conditional Gaussian mixture
# (16 components, a 2 x 256 network) trained for at most 25 minutes.
# Needs no FSPS; needs the extra [amortized] (PyTorch, zuko).
set -euo pipefail
cd "$(dirname "$0")/.."
prospect-emu train-posterior prospect_emu/data/demo_spectral_emulator \
    --out prospect_emu/data/demo_spectral_posterior \
    --simulations 1000000 --zred 0.2,2.5 --components 16 --hidden 256 --batch 1024 \
    --max-minutes 25 --threads 2 --seed 0 --quiet
