"""One-line messages for errors that reach the command line (no traceback for user input)."""

from __future__ import annotations

import argparse


def dataset_of(args: argparse.Namespace) -> str | None:
    """The prepared dataset a command reads: ``--data``, else the run's recorded dataset."""
    data = getattr(args, "data", None)
    if data:
        return str(data)
    run = getattr(args, "run", None)
    if run:
        from sessionrec_tf.training.run import Run

        try:
            return str(Run.load(run).info["dataset"])
        except (OSError, ValueError, KeyError):  # DataError, ConfigError are ValueErrors
            return None
    return None


def corrupt_data_message(args: argparse.Namespace, err: Exception) -> str:
    """A one-line message for a TFRecord read failure, naming the damaged shard(s)."""
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.data.errors import DataError
    from sessionrec_tf.data.validate import damaged_shards, first_error_line

    data = dataset_of(args)
    detail = first_error_line(err)
    if data is not None:
        try:
            damaged = damaged_shards(PreparedDataset.load(data))
        except DataError:
            damaged = []
        if damaged:
            first = damaged[0]
            more = f" (and {len(damaged) - 1} more shard(s))" if len(damaged) > 1 else ""
            return (f"{first.file}: corrupt TFRecord shard, unreadable at record "
                    f"{first.record} ({first.message}){more}; prepare the dataset again "
                    f"(sessionrec prepare ... --overwrite); `sessionrec validate {data}` "
                    "lists every problem")
    return (f"a TFRecord file could not be read ({detail}); run `sessionrec validate DATA` "
            "on the dataset to find the damaged shard")
