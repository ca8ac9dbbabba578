"""What the library's Beam pipelines (preparation, batch scoring) share: the import with a clear
error when the ``beam`` extra is missing, ``--beam-option KEY=VALUE`` parsing, running a
pipeline so a user mistake surfaces as one :class:`DataError` line, and reading its counters.

Example::

    beam = import_beam("preparing with --runner beam")
    pipeline = make_pipeline({"runner": "DirectRunner", "direct_num_workers": "2"})
    ...
    result = run_pipeline(pipeline)
    counters(result, "sessionrec_tf.prepare")        # {"users": 664, ...}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sessionrec_tf.data.errors import DataError

# The logger that prints the traceback of an exception raised inside a transform; the
# exception itself reaches the caller (with the transform's name appended to its message).
_TRANSFORM_LOGGER = "apache_beam.runners.common"
_WHILE_RUNNING = re.compile(r"( \[while running '[^']*'\])+$")


def import_beam(what: str) -> Any:
    """``apache_beam``, or a DataError saying ``what`` needs the optional ``beam`` extra."""
    logging.disable(logging.WARNING)  # its import warns about optional GCP client libraries
    try:
        import apache_beam
    except ImportError:
        raise DataError(f"{what} needs Apache Beam, the optional extra `beam`: "
                        "pip install -e '.[beam]'") from None
    finally:
        logging.disable(logging.NOTSET)
    return apache_beam


def parse_beam_options(items: Sequence[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> a dict of Beam pipeline options (keys without ``--``)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise DataError(f"beam option {item!r} is not KEY=VALUE (e.g. "
                            "direct_num_workers=2)")
        out[key] = value
    return out


def pipeline_options(beam_options: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """Options as a dict (from a dict or ``KEY=VALUE`` items); runner DirectRunner unless given."""
    if beam_options is None:
        beam_options = {}
    if not isinstance(beam_options, Mapping):
        beam_options = parse_beam_options(list(beam_options))
    return {"runner": "DirectRunner", **beam_options}


def make_pipeline(beam_options: Mapping[str, str]) -> Any:
    """A pipeline with these options, given as command-line flags so Beam parses each type."""
    beam = import_beam("a Beam pipeline")
    from apache_beam.options.pipeline_options import PipelineOptions

    flags = [f"--{key}={value}" for key, value in beam_options.items()]
    return beam.Pipeline(options=PipelineOptions(flags))


def run_pipeline(pipeline: Any) -> Any:
    """Run ``pipeline`` to the end. A DataError raised by a transform (a user mistake, such as
    a bad input file) comes back as itself, without Beam's logged traceback and suffix."""
    transform_logger = logging.getLogger(_TRANSFORM_LOGGER)
    level = transform_logger.level
    transform_logger.setLevel(logging.CRITICAL)
    try:
        result = pipeline.run()
        result.wait_until_finish()
        return result
    except DataError as err:
        raise DataError(_WHILE_RUNNING.sub("", str(err))) from None
    finally:
        transform_logger.setLevel(level)


def counters(result: Any, namespace: str) -> dict[str, int]:
    """The counters of ``namespace`` a finished pipeline reported (committed values)."""
    from apache_beam.metrics.metric import MetricsFilter

    out: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(value)
    return out
