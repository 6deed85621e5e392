"""Per-band accuracy of emulators on an independent FSPS test set, side by side.

Generate the test set once (another seed than any training set, >= 5000 prior draws of the
model, no spectrum sharing), then compare emulators on it::

    prospect-emu generate prospect_emu/data/demo_params.py --out indep.h5 --n 5000 \\
        --range zred=0,3 --sampler prior --seed 4242
    python benchmarks/bench_accuracy.py indep.h5 old=EMU_DIR_1 new=EMU_DIR_2 [--json out.json]

Prints, per band and for log10(mfrac), the median and the 95th percentile of
|emulated - FSPS| (asinh magnitudes; dex for mfrac) for each emulator, then the
targets of issue 9 (median <= 0.01 and 95th percentile <= 0.03 mag in every band,
mfrac 95th percentile <= 0.005 dex) with a pass/fail per emulator, and, with several
emulators, the bands in which each is worse than the first.  The numbers come
from :func:`prospect_emu.analysis.validate.validate` (which also warns when a test set is not
independent of an emulator's training set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGET_MEDIAN, TARGET_P95, TARGET_MFRAC_P95 = 0.01, 0.03, 0.005


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test", metavar="TEST.h5", help="independent FSPS test set (prospect-emu generate)")
    ap.add_argument("emulators", nargs="+", metavar="[LABEL=]EMU_DIR")
    ap.add_argument("--json", default=None, help="also write the table as JSON")
    args = ap.parse_args(argv)

    from prospect_emu.analysis.validate import validate

    labels, paths = [], []
    for item in args.emulators:
        label, eq, path = item.partition("=")
        if not eq:
            label, path = Path(item).name, item
        labels.append(label)
        paths.append(path)
    rep = validate(paths, args.test, labels=labels, plots=False)
    ts = rep["test_set"]
    print(f"test set {ts['path']}: {ts['n_rows']} rows, seed {ts['seed']}, sampler "
          f"{ts['sampler'].get('kind') if isinstance(ts['sampler'], dict) else ts['sampler']}, "
          f"share_spectrum {ts['share_spectrum']}")
    for r in rep["emulators"]:
        for w in r["warnings"]:
            print(f"warning ({r['label']}): {w}")
    names = list(rep["emulators"][0]["per_output"])
    width = max(12, *(len(lab) for lab in labels))
    print(f"{'band':14s}" + "".join(f"{lab:>{width + 4}s}" for lab in labels))
    print(f"{'':14s}" + "".join(f"{'median / p95':>{width + 4}s}" for _ in labels))
    table: dict[str, dict[str, list[float]]] = {}
    for n in names:
        row = f"{n:14s}"
        for r in rep["emulators"]:
            s = r["per_output"].get(n)
            table.setdefault(r["label"], {})[n] = [s["median_abs"], s["p95_abs"]] if s else [None, None]
            row += f"{s['median_abs']:>{width - 4}.4f} / {s['p95_abs']:.3f}" if s else " " * (width + 4)
        print(row)
    row = f"{'all bands':14s}"
    for r in rep["emulators"]:
        a = r["all_bands"]
        table[r["label"]]["all_bands"] = [a["median_abs"], a["p95_abs"]]
        row += f"{a['median_abs']:>{width - 4}.4f} / {a['p95_abs']:.3f}"
    print(row)
    print(f"\ntargets: every band median <= {TARGET_MEDIAN}, p95 <= {TARGET_P95}; "
          f"log10_mfrac p95 <= {TARGET_MFRAC_P95}")
    for r in rep["emulators"]:
        bands = [n for n in names if n != "log10_mfrac"]
        bad = [b for b in bands if r["per_output"][b]["median_abs"] > TARGET_MEDIAN
               or r["per_output"][b]["p95_abs"] > TARGET_P95]
        mf = r["per_output"]["log10_mfrac"]["p95_abs"]
        print(f"  {r['label']}: {len(bands) - len(bad)}/{len(bands)} bands within target; "
              f"mfrac p95 {mf:.4f} {'ok' if mf <= TARGET_MFRAC_P95 else 'above target'}"
              + (f"; worst band {max(bad, key=lambda b: r['per_output'][b]['p95_abs'])}" if bad else ""))
    if len(labels) > 1:
        ref = rep["emulators"][0]
        print(f"\nagainst {ref['label']} (bands whose median or 95th percentile is larger):")
        bands = [n for n in names if n != "log10_mfrac"]
        for r in rep["emulators"][1:]:
            worse = [b for b in bands if r["per_output"][b]["p95_abs"] > ref["per_output"][b]["p95_abs"]
                     or r["per_output"][b]["median_abs"] > ref["per_output"][b]["median_abs"]]
            print(f"  {r['label']}: " + (f"worse in {', '.join(worse)}" if worse
                                        else "better in every band (median and p95)"))
    if args.json:
        Path(args.json).write_text(json.dumps({"test_set": ts, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
