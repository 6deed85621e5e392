#!/usr/bin/env bash
# Regenerate the bundled amortized posterior of the demo model (prospect_emu/data/demo_posterior)
# with the package's own command, from the bundled demo emulator: 1,000,000 galaxies simulated
# from the demo model's prior through the emulator at zred 0.2-2.5 (scattered by the emulator's
# held-out residual covariance, S/N 5-100 per galaxy, 10% of bands missing), then a conditional
# Gaussian mixture (16 components, a 2 x 256 network) trained for at most 25 minutes.
# Needs no FSPS; needs the extra [amortized] (PyTorch, zuko).
# Measured on the 2-core development machine (other jobs running): simulation 7 s; training
# 25 minutes on 2 threads (38 CPU-minutes, 76 epochs, ended by the time limit).
set -euo pipefail
cd "$(dirname "$0")/.."
prospect-emu train-posterior prospect_emu/data/demo_emulator --out prospect_emu/data/demo_posterior \
    --simulations 1000000 --zred 0.2,2.5 --components 16 --hidden 256 --batch 1024 \
    --max-minutes 25 --threads 2 --seed 0 --quiet
