"""``sessionrec export``: a run's best weights as TF Serving SavedModels (+ a ScaNN index).

Flag defaults come from :class:`~sessionrec_tf.export.exporter.ExportOptions` and
:class:`~sessionrec_tf.retrieval.scann_options.ScannOptions`.
"""

from __future__ import annotations

import argparse

from sessionrec_tf.cli.common import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from sessionrec_tf.export.exporter import ExportOptions
    from sessionrec_tf.options import default_of
    from sessionrec_tf.retrieval.registry import EXPORT_INDEX_CHOICES
    from sessionrec_tf.retrieval.scann_options import ScannOptions

    p = sub.add_parser(
        "export", help="export a run as TF Serving SavedModels (+ ScaNN index)",
        description="Export a run's best weights as OUTPUT/<version>/: a stock-ops SavedModel "
                    "TF Serving loads (user embedding, exact top-K), and with --index "
                    "scann|both a ScaNN retrieval SavedModel (OUTPUT/<version>/scann) and a "
                    "scann_ops_pybind index (OUTPUT/<version>/scann_index). Written to a "
                    "staging directory and renamed when complete.")
    p.add_argument("--run", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--output", required=True,
                   help="TF Serving base path, e.g. export/sessionrec")
    p.add_argument("--version", type=positive_int,
                   help="version number (default: one more than the highest existing)")
    k = default_of(ExportOptions, "k")
    p.add_argument("--k", type=positive_int, default=k, help=f"top-K size (default {k})")
    p.add_argument("--index", choices=EXPORT_INDEX_CHOICES,
                   default=default_of(ExportOptions, "index"),
                   help="exact: stock model with exact top-K (default); scann: stock model "
                        "with embeddings only + ScaNN model; both: exact + ScaNN")
    p.add_argument("--data", help="the run's dataset if it moved (default: the one recorded "
                                  "in the run)")
    p.add_argument("--chunk-size", type=positive_int,
                   default=default_of(ExportOptions, "chunk_size"),
                   help="candidates scored at once by the exact top-K (memory vs speed)")
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction,
                   default=default_of(ExportOptions, "warmup"),
                   help="write TF Serving warm-up requests into assets.extra (default: when "
                        "tensorflow-serving-api is installed; --warmup requires it)")
    name = default_of(ExportOptions, "model_name")
    p.add_argument("--model-name", default=name,
                   help=f"TF Serving model name in the warm-up requests (default {name})")
    p.add_argument("--token-tables", action=argparse.BooleanOptionalAction,
                   default=default_of(ExportOptions, "token_tables"),
                   help="serve interaction tokens from tables precomputed at export (one "
                        "[items, d] table more; no per-request first-layer matmul; default on)")
    g = p.add_argument_group("ScaNN index (defaults scaled to the catalog size)")
    g.add_argument("--scann-leaves", type=positive_int, help="tree partitions "
                   "(default round(3.2*sqrt(items)), at most items/50)")
    g.add_argument("--scann-leaves-to-search", type=positive_int,
                   help="partitions searched per query (default 5%% of leaves, at least 8)")
    g.add_argument("--scann-reorder", type=positive_int,
                   help="candidates re-scored exactly (default max(10k, 1000))")
    g.add_argument("--scann-spherical", action=argparse.BooleanOptionalAction,
                   default=default_of(ScannOptions, "spherical"),
                   help="spherical k-means tree (default: yes when the candidate embeddings "
                        "are unit-norm, i.e. cosine similarity)")
    dims = default_of(ScannOptions, "dimensions_per_block")
    g.add_argument("--scann-dims-per-block", type=positive_int, default=dims,
                   help=f"asymmetric-hashing dimensions per block (default {dims})")
    threshold = default_of(ScannOptions, "anisotropic_quantization_threshold")
    g.add_argument("--scann-aq-threshold", type=float, default=threshold,
                   help=f"anisotropic quantization threshold (default {threshold:g})")
    g.add_argument("--scann-training-sample", type=positive_int,
                   default=default_of(ScannOptions, "training_sample_size"),
                   help="points sampled to train the tree and codebooks")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sessionrec_tf.export.exporter import Exporter, ExportOptions
    from sessionrec_tf.retrieval.scann_options import ScannOptions

    scann = ScannOptions(
        num_leaves=args.scann_leaves, num_leaves_to_search=args.scann_leaves_to_search,
        num_reordering_candidates=args.scann_reorder, spherical=args.scann_spherical,
        dimensions_per_block=args.scann_dims_per_block,
        anisotropic_quantization_threshold=args.scann_aq_threshold,
        training_sample_size=args.scann_training_sample)
    options = ExportOptions(k=args.k, index=args.index, version=args.version, scann=scann,
                            chunk_size=args.chunk_size, warmup=args.warmup,
                            model_name=args.model_name, token_tables=args.token_tables)
    exporter = Exporter.from_run(args.run, args.data)
    result = exporter.export(args.output, options, log=None if args.quiet else print)
    print(result.path)
    return 0
