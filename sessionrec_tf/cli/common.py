"""What every ``sessionrec`` command shares: the usage error, value parsers, common flags."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import UTC, datetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class CliError(Exception):
    """A usage problem reported as one line on stderr with exit code 2."""


def parse_duration(text: str) -> float:
    """``"30m"``, ``"2h"``, ``"1d"``, ``"90s"`` or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use e.g. 30m, 2h, 1d, 90s or seconds")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse of :func:`parse_duration` for help texts: ``1800 -> "30m"``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_time(text: str) -> float:
    """Unix seconds, or an ISO date/time (UTC if no zone) -> Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither Unix seconds nor an ISO date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def parse_key_values(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"{flag} expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def flag(field: str) -> str:
    """The command-line flag of an option field: ``scaling_users -> --scaling-users``."""
    return "--" + field.replace("_", "-")


def add_set(p: argparse.ArgumentParser, help: str = "override a config value, e.g. --set "
            "model.sse=gru --set train.epochs=5") -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_budget(p: argparse.ArgumentParser, help: str) -> None:
    from sessionrec_tf.experiments.grids import BUDGETS

    p.add_argument("--budget", default="small", choices=list(BUDGETS), help=help)


def config_help() -> str:
    from sessionrec_tf.config import shipped_configs

    return f"experiment YAML, or a shipped config name ({', '.join(shipped_configs())})"
