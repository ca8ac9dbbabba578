"""The HSTU sequence encoder, forward (validation, serving) and training step, against an older
checkout's encoder, side by side in one process (issue 19).

    python benchmarks/bench_hstu.py --old-tree DIR [--batch 256] [--train-batch 64] \
        [--length 400] [--rounds 5]

Two encoders with the same weights (HSTU+'s shape: d 64, 4 blocks, 2 heads, ``max_len``
400): this checkout's ``sessionrec_tf/sse/hstu.py`` and the one of ``--old-tree`` (loaded
from its file; it uses this checkout's dropout layer and option registry). Each is timed on

- ``forward``: ``training=False`` over ``[batch, length]`` random tokens (the user lengths
  uniform in ``[length / 2, length]``, one at ``length``), as a validation batch is;
- ``train step``: forward with dropout plus the gradients of every weight for
  ``[train-batch, length]``.

Rounds are interleaved (old forward, new forward, old step, new step, ...); the table gives
the median seconds per call and the new/old ratio. The two encoders must agree before any
timing: the states at valid positions and every gradient (a random projection of the states
as the loss), to float32 round-off. Without ``--old-tree`` only this checkout is timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_smoke, old_tree_arg, old_tree_note, old_tree_path, record  # noqa: E402

import sessionrec_tf  # noqa: E402, F401  (Keras 2 before TensorFlow)


def load_hstu(tree: Path, name: str) -> ModuleType:
    """``sessionrec_tf/sse/hstu.py`` of ``tree`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, tree / "sessionrec_tf/sse/hstu.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: {tree}: no sessionrec_tf/sse/hstu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=256, help="users per forward call")
    p.add_argument("--train-batch", type=int, default=64, help="users per training step")
    p.add_argument("--length", type=int, default=400, help="padded sequence length")
    p.add_argument("--max-len", type=int, default=400)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=1,
                   help="calls per timing (more for small shapes, e.g. one user)")
    old_tree_arg(p, "the HSTU encoder")
    smoke = add_smoke(p)
    args = p.parse_args()
    old_tree = old_tree_path(args.old_tree)
    if smoke:
        args.batch, args.train_batch, args.length, args.max_len, args.rounds = 8, 4, 24, 32, 1
        old_tree = old_tree or REPO  # the comparison path too, against this checkout
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def inputs(batch: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        x = tf.constant(rng.normal(size=(batch, args.length, 64)).astype(np.float32))
        lengths = rng.integers(args.length // 2, args.length + 1, size=batch)
        lengths[0] = args.length
        mask = tf.constant(np.arange(args.length)[None] < lengths[:, None])
        gaps = rng.integers(1, 5_000, size=(batch, args.length))
        return x, mask, tf.constant(1_700_000_000 + np.cumsum(gaps, axis=1))

    forward_in, train_in = inputs(args.batch), inputs(args.train_batch)
    projection = tf.constant(rng.normal(size=(args.train_batch, args.length, 64))
                             .astype(np.float32))
    from sessionrec_tf.sse import hstu

    modules = {"new": hstu}
    if old_tree is not None:
        modules = {"old": load_hstu(old_tree, "old_hstu"), **modules}
    encoders = {}
    for side, module in modules.items():
        encoders[side] = module.HSTUEncoder(64, num_layers=args.layers, num_heads=2,
                                            max_len=args.max_len, dropout=0.2)
        encoders[side](*forward_in)  # build
    if "old" in encoders:
        pairs = list(zip(encoders["old"].weights, encoders["new"].weights, strict=True))
        for old, new in pairs:
            if old.name.split("/", 1)[1] != new.name.split("/", 1)[1]:
                raise SystemExit(f"error: the encoders' weights differ: {old.name} vs {new.name}")
            old.assign(new)

    def forward(enc: tf.keras.layers.Layer) -> tf.types.experimental.GenericFunction:
        return tf.function(lambda: enc(*forward_in, training=False))

    def step(enc: tf.keras.layers.Layer, training: bool = True
             ) -> tf.types.experimental.GenericFunction:
        x, mask, times = train_in

        @tf.function
        def run() -> tuple[tf.Tensor, list[tf.Tensor]]:
            with tf.GradientTape() as tape:
                states = enc(x, mask, times, training=training)
                loss = tf.reduce_sum(states * projection * tf.cast(mask, tf.float32)[..., None])
            return loss, [tf.convert_to_tensor(g)
                          for g in tape.gradient(loss, enc.trainable_variables)]
        return run

    arms = {(side, "forward"): forward(enc) for side, enc in encoders.items()}
    arms.update({(side, "train step"): step(enc) for side, enc in encoders.items()})
    if "old" in encoders:  # the same computation (no dropout for the check)
        valid = forward_in[1].numpy()
        got = {side: forward(enc)().numpy()[valid] for side, enc in encoders.items()}
        scale = float(np.abs(got["old"]).max())
        if np.abs(got["old"] - got["new"]).max() > 1e-5 * scale:
            raise SystemExit("error: the old and new encoders' states differ")
        grads = {side: [g.numpy() for g in step(enc, training=False)()[1]]
                 for side, enc in encoders.items()}
        for old, new in zip(grads["old"], grads["new"], strict=True):
            if np.abs(old - new).max() > 1e-3 * max(float(np.abs(old).max()), 1e-6):
                raise SystemExit("error: the old and new encoders' gradients differ")
    for fn in arms.values():
        fn()  # trace and warm up
    seconds: dict[tuple[str, str], list[float]] = {arm: [] for arm in arms}
    for _ in range(args.rounds):
        for what in ("forward", "train step"):
            for side in encoders:
                start = time.perf_counter()
                for _ in range(args.calls):
                    tf.nest.map_structure(lambda t: t.numpy(), arms[(side, what)]())
                seconds[(side, what)].append((time.perf_counter() - start) / args.calls)

    def med(arm: tuple[str, str]) -> float:
        return statistics.median(seconds[arm])

    def span(arm: tuple[str, str]) -> str:
        return f"{fmt(min(seconds[arm]))}-{fmt(max(seconds[arm]))}"

    def fmt(value: float) -> str:
        return f"{value:.3f}" if value >= 0.01 else f"{value * 1000:.2f} ms"

    rows = ["| call | shape | old s (range) | new s (range) | new/old |", "|---|---|---|---|---|"]
    for what, batch in (("forward", args.batch), ("train step", args.train_batch)):
        new = f"{fmt(med(('new', what)))} ({span(('new', what))})"
        if "old" in encoders:
            old = f"{fmt(med(('old', what)))} ({span(('old', what))})"
            ratio = f"{med(('new', what)) / med(('old', what)):.2f}"
        else:
            old = ratio = "-"
        rows.append(f"| {what} | [{batch}, {args.length}] | {old} | {new} | {ratio} |")
    body = ("\n".join(rows) + f"\n\nHSTU encoder d 64, {args.layers} blocks, 2 heads, max_len "
            f"{args.max_len}; median seconds per call over {args.rounds} interleaved rounds "
            f"of {args.calls} call(s); "
            "states and gradients checked equal first." + old_tree_note(old_tree, "call"))
    record("HSTU encoder: forward and training step side by side", body)


if __name__ == "__main__":
    main()
