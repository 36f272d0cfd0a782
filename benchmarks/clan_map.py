"""Does CLAN's discrepancy map weight? Its logged statistics for a few CLAN variants at the ``cpu`` preset.

Each variant is one ``python -m pfrlib.train --preset cpu --method clan --num-threads 1`` run
(seed 0, 1500 iterations) with the options below; a run folder that already holds a
``final.json`` is read, not trained again (so the results can be rebuilt from kept runs). For each
one the benchmark records:

* ``method_stats``: ``final.json``'s summary of the map (mean of ``M``, its 95th percentile, the
  share of target pixels whose weight exceeds ``WEIGHTED_MARGIN x epsilon``), over the logged
  iterations (``mean``) and at the last one (``last``), the shares in per cent;
* ``weight_cosine``: the two classifiers' weight cosine at chosen iterations, from the logged
  ``clan_discrepancy`` divided by the damping ``1 - iteration / horizon``, and
  ``weighted_percent``: the share of target pixels the map weights (or would, in the preheat) there;
* ``target_miou``: the final model's target-val mIoU (%).

``docs/choices.md`` ("Does CLAN's discrepancy map weight?") reads it. About 6 minutes per
variant on one thread.

Usage::

    python benchmarks/clan_map.py --runs runs/clan_map --json benchmarks/results/clan_map.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib.config.train_config import TrainConfig  # noqa: E402
from pfrlib.engine.record import FINAL_JSON, METRICS_JSONL, is_step_record  # noqa: E402
from pfrlib.engine.run import train  # noqa: E402
from pfrlib.io import write_json  # noqa: E402

#: The variants: CLAN's values (the ``cpu`` preset), its code's focal cross-entropy, its code's
#: optimiser kind (SGD with momentum and weight decay), and a ten times larger ``lambda_local``.
VARIANTS: dict[str, dict] = {
    "clan": {},
    "focal": {"clan_focal_gamma": 2.0},
    "sgd": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005},
    "lambda_local_400": {"clan_lambda_local": 400.0},
}

#: Iterations at which the weights' cosine and the weighted share are reported.
COSINE_AT = (25, 200, 500, 1000)


def run(folder: Path, overrides: dict, threads: int) -> Path:
    """Train the variant into ``folder`` unless it already finished there."""
    if not (folder / FINAL_JSON).is_file():
        cfg = TrainConfig.preset("cpu", method="clan", out=str(folder), num_threads=threads, progress=False,
                                 overwrite=True, **overrides)
        train(cfg)
    return folder


def summarise(folder: Path) -> dict:
    final = json.loads((folder / FINAL_JSON).read_text())
    cfg = json.loads((folder / "config.json").read_text())
    horizon = cfg["optim"]["schedule_iterations"] or cfg["optim"]["iterations"]
    steps = {r["iter"]: r for r in map(json.loads, (folder / METRICS_JSONL).read_text().splitlines())
             if is_step_record(r)}
    stats = {}
    for key, v in final["method_stats"].items():
        scale = 100.0 if key == "clan_map_weighted" else 1.0
        stats[key] = {k: round(x * scale, 6) for k, x in v.items()}
    cosine = {str(i): round(steps[i]["clan_discrepancy"] / (1.0 - i / horizon), 4) for i in COSINE_AT if i in steps}
    weighted = {str(i): round(100.0 * steps[i]["clan_map_weighted"], 2) for i in COSINE_AT if i in steps}
    return {"method_stats": stats, "weight_cosine": cosine, "weighted_percent": weighted,
            "target_miou": round(100.0 * final["target_miou"], 2)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/clan_map", help="folder of the variants' run folders")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    out = {"args": {"variants": {v: VARIANTS[v] for v in args.variants}, "preset": "cpu", "seed": 0},
           "results": {v: summarise(run(Path(args.runs) / v, VARIANTS[v], args.threads)) for v in args.variants}}
    print(json.dumps(out["results"], indent=2))
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
