"""A model-server stand-in, run as a fresh process by the export tests. It never imports
``sessionrec_tf``: only TensorFlow (and ``scann`` with ``--import-scann``).

    python serving_client.py JOBS.json [--import-scann]

``JOBS.json``: ``{"predict": [{"model": DIR, "request": BODY.json, "output": OUT.npz}, ...],
"check_ops": [DIR, ...]}``.

- predict: load the SavedModel, convert the REST body's columnar ``"inputs"`` to tensors of
  the signature's dtypes (what TF Serving's REST handler does), call the signature, save the
  outputs to ``OUT.npz``.
- check_ops: walk every function of the SavedModel and list the op types that TensorFlow's op
  registry (in this process) does not know.

Prints one JSON line: ``{"unregistered": {DIR: [ops]}, "modules": {...}}``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def rest_to_tensors(body: dict, signature) -> dict:  # noqa: ANN001
    import tensorflow as tf

    specs = signature.structured_input_signature[1]
    missing = sorted(set(specs) - set(body["inputs"]))
    if missing:
        raise ValueError(f"request lacks inputs {missing}")
    return {name: tf.constant(body["inputs"][name], dtype=spec.dtype)
            for name, spec in specs.items()}


def predict(job: dict) -> None:
    import numpy as np
    import tensorflow as tf

    with open(job["request"]) as fh:
        body = json.load(fh)
    loaded = tf.saved_model.load(job["model"])
    signature = loaded.signatures[body.get("signature_name", "serving_default")]
    outputs = signature(**rest_to_tensors(body, signature))
    np.savez(job["output"], **{k: v.numpy() for k, v in outputs.items()})


def unregistered_ops(model_dir: str) -> list[str]:
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as fh:
        proto.ParseFromString(fh.read())
    ops = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    if not ops:
        raise ValueError(f"{model_dir}: no ops found")
    functions = {f.signature.name for meta in proto.meta_graphs
                 for f in meta.graph_def.library.function}
    # A call to a library function appears as a node whose op is the function's name.
    return sorted(op for op in ops if op not in functions and op_def_registry.get(op) is None)


def main() -> None:
    with open(sys.argv[1]) as fh:
        jobs = json.load(fh)
    if "--import-scann" in sys.argv:
        import scann  # noqa: F401
    report = {"unregistered": {d: unregistered_ops(d) for d in jobs.get("check_ops", [])}}
    for job in jobs.get("predict", []):
        predict(job)
    report["modules"] = {name: name in sys.modules for name in ("sessionrec_tf", "scann")}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
