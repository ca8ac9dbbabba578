"""How far GRU4Rec's training step is from what its GRUs allow (issue 19, section 3).

    python benchmarks/bench_gru.py --data tfrecords/sim_medium [--steps 20] [--rounds 5]

Two measurements, side by side in one run:

1. The GRU sequence encoder alone (:class:`~sessionrec_tf.sse.gru.GRUEncoder` at the gru4rec
   config's sizes: batch 64, 200 positions, d = 64, 4 layers; one thread), forward and
   forward + backward, against FLOORS: a loop of dependent matmuls (per layer and position
   two ``[B, d] x [d, 3d]``, nothing else) and one time-batched ``[B * L, d] x [d, 3d]``
   matmul. The floor of forward + backward (matmuls only, the best any rewrite can do at
   the model's FLOPs) is the loop plus 4 time-batched matmuls per layer.
2. The gru4rec training step on ``--data`` with its N GRU layers (4 as shipped) and with 1
   (each in its own process, :func:`~sessionrec_tf.experiments.efficiency.run_worker`): the
   step minus N/(N-1) of the difference estimates the step without GRU layers, so
   ``step / that`` is the largest speed-up any GRU rewrite could give the step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import sessionrec_tf  # noqa: F401  (Keras 2 before TensorFlow loads)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMOKE_MODEL, add_smoke, record, smoke_data  # noqa: E402


def encoder_times(batch: int, length: int, dim: int, layers: int, rounds: int,
                  repeats: int) -> dict[str, float]:
    """Median seconds of the encoder's forward, forward + backward, and the matmul floor."""
    import tensorflow as tf

    from sessionrec_tf.sse.gru import GRUEncoder

    tf.keras.utils.set_random_seed(0)
    encoder = GRUEncoder(dim, layers, dropout=0.0)
    x = tf.random.normal([batch, length, dim])
    mask = tf.ones([batch, length], tf.bool)
    encoder(x, mask)
    weights = encoder.trainable_variables
    kernel = tf.random.normal([dim, 3 * dim]) * 0.01
    recurrent = tf.random.normal([dim, 3 * dim]) * 0.01

    @tf.function
    def forward() -> tf.Tensor:
        return encoder(x, mask)

    @tf.function
    def backward() -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(encoder(x, mask)))
        return tape.gradient(loss, weights)

    @tf.function
    def floor() -> tf.Tensor:
        # 2 dependent [B, d] x [d, 3d] matmuls per layer and position (input and state)
        def body(i: tf.Tensor, h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            g = tf.matmul(h, kernel) + tf.matmul(h, recurrent)
            return i + 1, g[:, :dim]
        return tf.while_loop(lambda i, _: i < layers * length, body,
                             (tf.constant(0), tf.random.normal([batch, dim])))[1]

    flat = tf.random.normal([batch * length, dim])

    @tf.function
    def batched() -> tf.Tensor:
        # one [B * L, d] x [d, 3d] matmul: a weight or input gradient (or the input
        # projection) computed for all positions at once
        return tf.matmul(flat, kernel)

    arms = {"forward": forward, "forward + backward": backward, "floor": floor,
            "batched": batched}
    for fn in arms.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(rounds):  # interleaved
        for name, fn in arms.items():
            t0 = time.perf_counter()
            for _ in range(repeats):
                fn()
            times[name].append((time.perf_counter() - t0) / repeats)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke = add_smoke(p)
    p.add_argument("--data", required=not smoke, help="a prepared dataset (tfrecords/NAME)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--set", action="append", default=[], dest="overrides",
                   help="an override of the gru4rec config for the step timings (repeatable)")
    args = p.parse_args()
    repeats = 3
    if args.smoke:
        args.data, args.steps, args.rounds, repeats = str(smoke_data()), 1, 1, 1
        args.overrides += [*SMOKE_MODEL, "model.num_layers=2"]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments.efficiency import run_worker

    config = load_config("gru4rec", args.overrides)
    sizes = {"batch": config.train.batch_size, "length": config.model.max_len,
             "dim": config.model.embedding_dim, "layers": config.model.num_layers}
    if sizes["layers"] < 2:
        raise SystemExit("error: the gru4rec config must have at least 2 GRU layers here")

    data = PreparedDataset.load(Path(args.data).resolve())
    print("timing the encoder ...", flush=True)
    enc = encoder_times(**sizes, rounds=args.rounds, repeats=repeats)
    b, n, d, layers = sizes["batch"], sizes["length"], sizes["dim"], sizes["layers"]
    flops = layers * n * 2 * (2 * b * d * 3 * d)  # the floor's two matmuls per step
    steps = {}
    for count in (layers, 1):
        print(f"timing the gru4rec step with {count} GRU layer(s) ...", flush=True)
        steps[count] = run_worker(data.path, "gru4rec",
                                  [*args.overrides, f"model.num_layers={count}"],
                                  args.steps)["seconds_per_step"]
    per_layer = (steps[layers] - steps[1]) / (layers - 1)
    without = steps[layers] - layers * per_layer
    bound = steps[layers] / without if without > 0 else float("inf")
    # forward + backward at best: the sequential matmuls (state forward, state gradient
    # backward: the floor loop) plus 4 time-batched matmuls per layer (input projection,
    # input gradient, the two weight gradients); every elementwise op left out
    gru_floor = enc["floor"] + 4 * layers * enc["batched"]
    best_step = max(without, 0.0) + gru_floor
    enc_rows = {"forward": enc["forward"], "forward + backward": enc["forward + backward"],
                "floor: sequential matmuls": enc["floor"],
                "one time-batched matmul": enc["batched"],
                "floor of forward + backward": gru_floor}
    rows = [
        "| measure | seconds | x floor loop |",
        "|---|---|---|",
        *(f"| encoder {name} | {t:.4f} | {t / enc['floor']:.2f} |"
          for name, t in enc_rows.items()),
        "",
        "| gru4rec training step | s/step |",
        "|---|---|",
        f"| {layers} GRU layers (the config's) | {steps[layers]:.3f} |",
        f"| 1 GRU layer | {steps[1]:.3f} |",
        f"| estimated: no GRU layer (step - {layers} x per-layer cost) | {without:.3f} |",
        f"| largest speed-up any GRU rewrite can give the step | {bound:.2f}x |",
        f"| step with the GRUs at the floor of forward + backward | {best_step:.3f} |",
        f"| largest speed-up at this model's FLOPs | {steps[layers] / best_step:.2f}x |",
    ]
    body = "\n".join(rows) + (
        f"\n\nEncoder: `GRUEncoder` with batch {b}, {n} positions, d = {d}, {layers} layers, "
        f"dropout 0, one thread; medians of {args.rounds} interleaved rounds of {repeats} "
        "calls. Floor loop: a while loop of 2 dependent [B, d] x [d, 3d] matmuls per layer "
        f"and position ({flops / 1e9:.2f} GFLOP, {flops / enc['floor'] / 1e9:.1f} GFLOP/s). "
        "A GRU's forward + backward needs, per layer and position, 2 matmuls that depend on "
        "the previous position (state forward, state gradient backward) and 4 that can be "
        "batched over all positions (input projection, input gradient, 2 weight gradients): "
        "its floor is the floor loop plus 4 x layers time-batched matmuls, elementwise work "
        "left out. Steps: the gru4rec "
        f"config on `{Path(args.data).name}` ({data.counts['users']:,} users), "
        f"{args.steps} timed steps after 3 warm-up steps, each in its own process; overrides: "
        f"{' '.join(args.overrides) or 'none'}.")
    record(f"GRU4Rec: the step against what its GRUs allow on {Path(args.data).name} "
           "(issue 19)", body)


if __name__ == "__main__":
    main()
