"""The main job on the embedded default data (``sessionrec demo``, ``make demo``).

Prepare the simulator's ``demo`` preset, train SessionRec-HSTU, and compare its validation
metrics (leave-one-session-out, full catalog, seen positives excluded) with most-popular.

Example::

    result = run_demo(Path("tfrecords/demo"), Path("runs/demo"), epochs=10)
    print(result.table()); assert result.beats_popular
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEMO_EPOCHS = 10
MODEL_LABEL = "SessionRec-HSTU"


@dataclass
class DemoResult:
    """The demo's numbers: ``model`` and ``popular`` map ``recall@K``/``ndcg@K`` to values."""

    model: dict[str, float]
    popular: dict[str, float]
    ks: list[int]
    summary: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def metric(self) -> str:
        """The metric the comparison is judged on: recall@100 (or at the largest K)."""
        return "recall@100" if 100 in self.ks else f"recall@{max(self.ks)}"

    @property
    def beats_popular(self) -> bool:
        return self.model[self.metric] > self.popular[self.metric]

    def table(self) -> str:
        names = [f"{m}@{k}" for m in ("recall", "ndcg") for k in self.ks]
        rows = [f"{'model':<22}" + "".join(f"{n:>12}" for n in names)]
        for label, values in (("most-popular", self.popular), (MODEL_LABEL, self.model)):
            rows.append(f"{label:<22}" + "".join(f"{values[n]:>12.4f}" for n in names))
        return "\n".join(rows)

    def verdict(self) -> str:
        m = self.metric
        if self.beats_popular:
            return (f"{MODEL_LABEL} beats most-popular on {m}: {self.model[m]:.4f} vs "
                    f"{self.popular[m]:.4f}")
        return f"WARNING: {MODEL_LABEL} does not beat most-popular on {m}"


def run_demo(data_dir: Path, output: Path, size: str = "demo", epochs: int = DEMO_EPOCHS,
             overrides: Sequence[str] = (), log: Callable[[str], None] = print) -> DemoResult:
    """Prepare, train and compare (see the module docstring); ``output`` is started over."""
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PrepareOptions, prepare_dataset
    from sessionrec_tf.evaluation.popularity import MostPopular
    from sessionrec_tf.training import Trainer, train_item_counts

    log(f"== 1/3 prepare the simulator's {size!r} preset into {data_dir}")
    data = prepare_dataset("synthetic", None, data_dir, {"size": size}, PrepareOptions(),
                           progress=True)
    config = load_config("sessionrec_hstu", [f"train.epochs={epochs}", *overrides])
    log(f"== 2/3 train {MODEL_LABEL} into {output} ({epochs} epochs max)")
    t0 = time.time()
    trainer = Trainer(config, data, output, overwrite=True, verbose=2)
    summary = trainer.run()
    seconds = time.time() - t0
    log("== 3/3 validation (leave-one-session-out, full catalog, seen positives excluded)")
    ks = list(config.train.eval_ks)
    popular = MostPopular(train_item_counts(data)).evaluate(data, ks=ks)
    return DemoResult(trainer.validate(), popular, ks, summary, seconds)
