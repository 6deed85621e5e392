"""Layer 5, analysis: validation against FSPS sets, width sweeps, FSPS-vs-emulator
comparisons, derived quantities, posterior summaries, plots and catalog fitting.
"""
