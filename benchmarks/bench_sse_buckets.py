"""SSE length buckets on vs off: seconds per training epoch and per validation pass.

    python benchmarks/bench_sse_buckets.py --data tfrecords/kuairand_30m \\
        [--configs sasrec hstu_plus gru4rec sessionrec_hstu] [--epochs 2]

For each config, the same model (same weights, same data) is trained for ``--epochs`` epochs
with ``model.sse_length_buckets`` off and then on, each in its own process, alternating, after
one warm-up epoch (tracing); reported are the medians. Buckets change only the work, not the
results (tests/model/test_sse_bucketing.py), so this is a pure speed comparison, measured side
by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SMOKE_MODEL, add_smoke, record, smoke_data  # noqa: E402

WORKER = r"""
import json, sys, time, tempfile
import numpy as np
import sessionrec_tf  # noqa: F401
from sessionrec_tf.config import load_config
from sessionrec_tf.data.dataset import PreparedDataset
from sessionrec_tf.training.trainer import Trainer

config_name, data_path, buckets, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else []
config = load_config(config_name, [f"train.epochs={epochs + 1}", "train.early_stopping_patience=99",
                                   f"model.sse_length_buckets={buckets}", *extra])
with tempfile.TemporaryDirectory() as tmp:
    trainer = Trainer(config, PreparedDataset.load(data_path), tmp, verbose=0, log=lambda m: None)
    validate, times = trainer.validate, []
    def timed():
        t0 = time.time(); out = validate(); times.append(time.time() - t0); return out
    trainer.validate = timed
    trainer.run()
    train = [h["train_seconds"] for h in json.load(open(tmp + "/history.json"))]
print(json.dumps({"train": float(np.median(train[1:])), "valid": float(np.median(times[1:]))}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="tfrecords/kuairand_30m")
    p.add_argument("--configs", nargs="+",
                   default=["sasrec", "hstu_plus", "gru4rec", "sessionrec_hstu"])
    p.add_argument("--epochs", type=int, default=2)
    add_smoke(p)
    args = p.parse_args()
    extra = []
    if args.smoke:
        args.data, args.configs, args.epochs = str(smoke_data()), ["sessionrec_hstu"], 1
        extra = SMOKE_MODEL
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    rows = ["| config | buckets off: train s/epoch | on | speed-up | off: validation s | on | "
            "speed-up |", "|---|---|---|---|---|---|---|"]
    for name in args.configs:
        res = {}
        for buckets in ("false", "true"):
            out = subprocess.run([sys.executable, "-c", WORKER, name, args.data, buckets,
                                  str(args.epochs), json.dumps(extra)], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            res[buckets] = json.loads(out)
            print(name, "buckets", buckets, res[buckets], flush=True)
        off, on = res["false"], res["true"]
        rows.append(f"| {name} | {off['train']:.1f} | {on['train']:.1f} | "
                    f"{off['train'] / on['train']:.1f}x | {off['valid']:.1f} | "
                    f"{on['valid']:.1f} | {off['valid'] / on['valid']:.1f}x |")
    body = "\n".join(rows) + (f"\n\nDataset `{args.data}`; medians over {args.epochs} epochs "
                              "after a warm-up epoch.")
    print(body)
    record("SSE length buckets: training and validation time", body)


if __name__ == "__main__":
    main()
