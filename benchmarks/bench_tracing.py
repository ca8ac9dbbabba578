"""Start-up cost of the traced code: AutoGraph converting the package vs leaving it as written.

    python benchmarks/bench_tracing.py --data tfrecords/NAME [--config sessionrec_hstu] \
        [--repeats 3] [--set KEY=VALUE ...]

TensorFlow's AutoGraph rewrites every Python function a ``tf.function`` reaches before the
first trace; this package's code does not need it and is left as written
(``sessionrec_tf/_autograph.py``; ``SESSIONREC_AUTOGRAPH=1`` restores the conversion). Each
measurement runs in a fresh process, the two modes alternating (the order flipped each
repeat): the first training step of the config (trace + one step, the efficiency worker of
``sessionrec_tf.experiments.efficiency``) and the export of the same untrained model (exact
top-100 SavedModel, ``Exporter.export``), with the wall time of each process. The ratio is
measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPO,
    SMOKE,
    SMOKE_MODEL,
    add_smoke,
    parser,
    record,
    smoke_data,
    smoke_dir,
    training_args,
)

MODES = (("converted (SESSIONREC_AUTOGRAPH=1)", "1"), ("as written (default)", "0"))

EXPORT = """
import json, sys, time
from pathlib import Path
import sessionrec_tf
import tensorflow as tf
from sessionrec_tf.config import load_config
from sessionrec_tf.data import PreparedDataset
from sessionrec_tf.export import Exporter, ExportOptions
from sessionrec_tf.models import build_model
from sessionrec_tf.models.builder import build_with_dummy_batch
data = PreparedDataset.load(sys.argv[1])
config = load_config(sys.argv[2], json.loads(sys.argv[4]))
tf.keras.utils.set_random_seed(0)
t0 = time.perf_counter()
model = build_model(config, data)
build_with_dummy_batch(model)
built = time.perf_counter() - t0
Exporter(model, data, config).export(Path(sys.argv[3]), ExportOptions(index="exact"))
print(json.dumps({"build_seconds": built, "export_seconds": time.perf_counter() - t0 - built}))
"""


def _export(data: Path, config: str, overrides: list[str], env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(dir=smoke_dir() if SMOKE else None) as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", EXPORT, str(data), config,
                              str(Path(tmp) / "export"), json.dumps(overrides)],
                             cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"error: the export worker failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "export_wall": wall}


def main() -> None:
    p = parser(__doc__)
    smoke = add_smoke(p)
    training_args(p, smoke)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if smoke:
        args.data, args.repeats = str(smoke_data()), 1
        args.overrides += SMOKE_MODEL
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.experiments.efficiency import run_worker

    data = Path(args.data).resolve()
    runs: dict[str, list[dict]] = {flag: [] for _, flag in MODES}
    saved = os.environ.get("SESSIONREC_AUTOGRAPH")
    try:
        for repeat in range(args.repeats):
            for label, flag in MODES if repeat % 2 == 0 else MODES[::-1]:
                print(f"repeat {repeat + 1}/{args.repeats}: {label} ...", flush=True)
                os.environ["SESSIONREC_AUTOGRAPH"] = flag  # inherited by the workers
                t0 = time.perf_counter()
                train = run_worker(data, args.config, args.overrides, 1)
                train_wall = time.perf_counter() - t0
                runs[flag].append({"first_step": train["first_step_seconds"],
                                   "train_wall": train_wall,
                                   **_export(data, args.config, args.overrides,
                                             dict(os.environ))})
    finally:
        if saved is None:
            os.environ.pop("SESSIONREC_AUTOGRAPH", None)
        else:
            os.environ["SESSIONREC_AUTOGRAPH"] = saved

    keys = (("first_step", "first training step (trace + run)"),
            ("train_wall", "training worker process (start to exit, 4 steps)"),
            ("build_seconds", "model build (in the export process)"),
            ("export_seconds", "export (trace + save)"),
            ("export_wall", "export process (start to exit)"))

    def cell(values: list[float]) -> str:
        m = statistics.median(values)
        return f"{m:.2f}" + (f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else "")

    rows = ["| seconds | " + " | ".join(label for label, _ in MODES)
            + " | as written / converted |", "|---|---|---|---|"]
    for key, what in keys:
        conv = [r[key] for r in runs["1"]]
        kept = [r[key] for r in runs["0"]]
        rows.append(f"| {what} | {cell(conv)} | {cell(kept)} | "
                    f"{statistics.median(kept) / statistics.median(conv):.2f} |")
    body = "\n".join(rows) + (
        f"\n\nConfig `{args.config}` {' '.join(args.overrides) or ''} on `{data.name}`; "
        f"{args.repeats} fresh process pairs per measure (medians, range in brackets), the "
        "modes alternating. \"converted\": AutoGraph rewrites the package's functions before "
        "the first trace (TensorFlow's default); \"as written\": the package's do-not-convert "
        "rule (sessionrec_tf/_autograph.py).")
    record("Start-up cost of the traced code: AutoGraph on the package or not", body)


if __name__ == "__main__":
    main()
