"""The ``sessionrec`` command line: one module per command, each with ``register(sub)`` and
``run(args)``.

prepare, train, tune, evaluate, experiment, export, score, validate, negatives, demo. The
options written in the issues are the public interface (users' scripts depend on them), so
they are only ever added to; flag defaults come from the option dataclasses and the choices
from the component registries.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sessionrec_tf._keras_env import ensure_legacy_keras  # noqa: E402

ensure_legacy_keras()

from sessionrec_tf.cli import (  # noqa: E402
    demo,
    evaluate,
    experiment,
    export,
    negatives,
    prepare,
    score,
    train,
    tune,
    validate,
)
from sessionrec_tf.cli.common import CliError, parse_duration, parse_time  # noqa: E402
from sessionrec_tf.cli.errors import corrupt_data_message  # noqa: E402

COMMANDS = (prepare, train, tune, evaluate, experiment, export, score, validate, negatives,
            demo)
REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [c.register for c in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionrec",
        description="SessionRec: generative next-session recommendation on TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRY:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sessionrec_tf.config import ConfigError
    from sessionrec_tf.data.errors import DataError

    parser = build_parser()
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (for bug reports)")
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, CliError, ConfigError) as err:
        if args.debug:
            raise
        message = str(err)
    except OSError as err:  # unwritable/missing paths, a file where a directory should be
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        message = f"{where}{err.strerror or err}"
    except Exception as err:
        import tensorflow as tf

        if args.debug or not isinstance(err, tf.errors.DataLossError):
            raise
        message = corrupt_data_message(args, err)
    print(f"sessionrec {args.command}: error: {message}", file=sys.stderr)
    return 2


__all__ = ["COMMANDS", "REGISTRY", "CliError", "build_parser", "main", "parse_duration",
           "parse_time"]
