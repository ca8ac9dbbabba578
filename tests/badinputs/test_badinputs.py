"""Run the bad-input corpus (:mod:`badinputs.corpus`): each case ends with its exit code and a
one-line message naming the culprit, prints no traceback, and writes or changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from badinputs.corpus import CASES, MAP, SERVING_CASES, Case, good_log
from conftest import TINY_MODEL

EXPORT_K = 20


@pytest.fixture(scope="module")
def workspace(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    """The good inputs every case starts from: a raw log and its map, a prepared dataset, a
    run trained one epoch, and its export."""
    from sessionrec_tf.config import load_config
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.export import Exporter, ExportOptions
    from sessionrec_tf.training import Trainer

    root = tmp_path_factory.mktemp("badinputs")
    good_log().to_csv(root / "log.csv", index=False)
    (root / "map.yaml").write_text(MAP)
    data = root / "data"
    shutil.copytree(tiny_dataset.path, data)
    config = load_config("sessionrec_hstu", [*TINY_MODEL, "train.epochs=1"])
    Trainer(config, PreparedDataset.load(data), root / "run", verbose=0, log=lambda _m: None).run()
    result = Exporter.from_run(root / "run").export(root / "export",
                                                    ExportOptions(k=EXPORT_K))
    return {"root": root, "csv": root / "log.csv", "map": root / "map.yaml", "data": data,
            "run": root / "run", "export": result.path}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_dir()}


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from sessionrec_tf.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_corpus_is_large_and_covers_every_stage():
    assert len(CASES) + len(SERVING_CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.stage for c in CASES} == {"prepare", "data", "train", "export", "score",
                                        "evaluate"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace, tmp_path, capsys):
    tmp = tmp_path / "case"
    tmp.mkdir()
    if case.setup is not None:
        case.setup(tmp, workspace)
    capsys.readouterr()
    values = {k: str(v) for k, v in workspace.items()} | {"tmp": str(tmp)}
    argv = [a.format(**values) for a in case.argv]
    before = _snapshot(workspace["root"]), _snapshot(tmp)
    code, out, err = _run_cli(argv, capsys)
    text = out if case.stdout else err
    assert code == case.code, f"exit {code}, stderr: {err[-800:]}"
    assert "Traceback" not in out + err
    if not case.stdout:
        lines = [line for line in err.splitlines() if "error:" in line]
        assert len(lines) == 1, err[-800:]
    for expected in case.expect:
        assert expected.format(**values) in text, f"{expected!r} not in: {text[-800:]}"
    after = _snapshot(workspace["root"]), _snapshot(tmp)
    assert after[0] == before[0], "the workspace changed"
    assert after[1] == before[1], (f"files written or changed: "
                                   f"{sorted(set(after[1]) ^ set(before[1]))}")


@pytest.fixture(scope="module")
def serving(workspace):
    """The export's signature and one good request (3 users) from the test split."""
    from sessionrec_tf.data import PreparedDataset, read_dataset
    from sessionrec_tf.export.encode import RequestEncoder
    from sessionrec_tf.export.loaded import ExportedModel

    model = ExportedModel(workspace["export"])
    data = PreparedDataset.load(workspace["data"])
    batch = next(iter(read_dataset(data, "test", batch_size=3, deterministic=True)))
    request = {k: np.asarray(v) for k, v in RequestEncoder(data, model.spec).encode(
        batch).items()}
    signature = tf.saved_model.load(str(workspace["export"])).signatures["serving_default"]
    return signature, request


def test_the_good_request_is_served(serving):
    signature, request = serving
    out = signature(**{k: tf.constant(v) for k, v in request.items()})
    assert out["top_k_ids"].shape == (3, EXPORT_K)


@pytest.mark.parametrize("case", SERVING_CASES, ids=[c.id for c in SERVING_CASES])
def test_bad_serving_request(case, serving):
    signature, request = serving
    bad = case.change(dict(request))
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        signature(**{k: tf.constant(v) for k, v in bad.items()})
    message = str(info.value)
    for expected in case.expect:
        assert expected in message, message[:600]
