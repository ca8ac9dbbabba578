"""Where does the session paradigm win? SessionRec-HSTU minus HSTU+ while ONE simulator knob
varies (issue 17, section 3).

For each value ``v`` of ``--data-knob KNOB=V1,V2,...`` the simulator (preset ``base``) is
sampled with ``KNOB = v`` and everything else fixed, prepared into ``OUTPUT/data/KNOB=v``,
and SessionRec-HSTU and HSTU+ are trained on it (LOSO, ``seeds`` seeds). Interactions per
user stay equal across values: when the knob is ``mean_session_length``, the number of
sessions per user is set to ``interactions_per_user / v`` (at least 3). The gap of a metric
is ``100 * (SessionRec - HSTU+) / HSTU+`` per seed (paired by seed), reported as mean ± std
with both models' values; the PNG plots the gap of LOSO N@10 and R@100 with error bars.
``session_overrides`` (e.g. ``task.prefix_weight=1.0``) change the SessionRec-HSTU cell only,
to map an option against the same HSTU+ runs (written as ``paradigm_map_<knob>_options``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sessionrec_tf.data import PrepareOptions, prepare_dataset
from sessionrec_tf.data.sources.synthetic import DEFAULTS, PRESETS, SimulatorOptions
from sessionrec_tf.experiments.grid import Budget, Cell, provenance, run_grid
from sessionrec_tf.experiments.outputs import markdown_table, metric_panels, write_outputs

HSTU_PLUS = Cell("HSTU+", "hstu_plus")
GAP_METRICS = (("N@10", "ndcg@10"), ("R@100", "recall@100"))
KNOBS = tuple(k for k in SimulatorOptions.__dataclass_fields__ if k not in ("size", "seed"))


def parse_knob(text: str) -> tuple[str, list[float]]:
    """``"mean_session_length=1,2,5"`` -> ``("mean_session_length", [1.0, 2.0, 5.0])``."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or name not in KNOBS:
        raise ValueError(f"data knob expects KNOB=V1,V2,... with KNOB one of {list(KNOBS)}, "
                         f"got {text!r}")
    try:
        parsed = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"data knob {name}: values must be numbers, got {values!r}") from None
    if len(parsed) < 2 or len(set(parsed)) != len(parsed):
        raise ValueError(f"data knob {name}: needs at least two distinct values, got "
                         f"{values!r}")
    return name, parsed


def knob_options(knob: str, value: float, base: str, interactions_per_user: float | None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulator options of one point of the map (validated by the simulator)."""
    SimulatorOptions(size=base).resolved()  # an unknown preset is refused with its name
    preset = {**DEFAULTS, **PRESETS[base]}
    options: dict[str, Any] = {"size": base, "seed": 0, **(extra or {}), knob: value}
    if knob == "mean_session_length":
        per_user = interactions_per_user or (preset["sessions_per_user"]
                                             * preset["mean_session_length"])
        options["sessions_per_user"] = max(3.0, per_user / value)
    SimulatorOptions(**options).resolved()  # refuse a bad value before any work
    return options


def _label(value: float) -> str:
    return f"{value:g}"


def paradigm_map(output: Path, knob: str, values: Sequence[float], seeds: int, budget: Budget,
                 overrides: Sequence[str] = (), base: str = "demo",
                 interactions_per_user: float | None = None,
                 simulator: dict[str, Any] | None = None,
                 session_overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Train both models at every knob value; write ``paradigm_map_<knob>.{md,json,png}``."""
    points = [(v, knob_options(knob, v, base, interactions_per_user, simulator)) for v in values]
    ours = Cell("SessionRec-HSTU" + (f" ({', '.join(session_overrides)})"
                                     if session_overrides else ""),
                "sessionrec_hstu", tuple(session_overrides))
    cells = (HSTU_PLUS, ours)
    records, rows, gaps = [], [], {label: ([], []) for label, _ in GAP_METRICS}
    for value, options in points:
        name = f"{knob}={_label(value)}"
        data = prepare_dataset("synthetic", None, output / "data" / name, options,
                               PrepareOptions(), progress=False, log=None)
        grid = run_grid(list(cells), data, output / name, seeds, ("loso",), budget,
                        overrides, (10, 100))
        by = {(r["cell"], r["seed"]): r["metrics"] for r in grid.records}
        records += [{**r, "knob": knob, "value": value} for r in grid.records]
        row = [_label(value), f"{data.counts['rows'] / data.counts['users']:.0f}",
               f"{data.counts['avg_session_length']:.2f}",
               f"{100 * data.counts['negatives'] / data.counts['rows']:.0f}%"]
        for label, metric in GAP_METRICS:
            per_seed = [100 * (by[(ours.label, s)][metric] - by[("HSTU+", s)][metric])
                        / by[("HSTU+", s)][metric] for s in range(seeds)]
            mean = float(np.mean(per_seed))
            std = float(np.std(per_seed, ddof=1)) if seeds > 1 else 0.0
            gaps[label][0].append(mean)
            gaps[label][1].append(std)
            both = [np.mean([by[(c.label, s)][metric] for s in range(seeds)]) for c in cells]
            row += [f"{both[0]:.4f}", f"{both[1]:.4f}",
                    f"{mean:+.1f}%" + (f" ± {std:.1f}" if seeds > 1 else "")]
        rows.append(row)
    header = [knob, "interactions/user", "session length", "negatives"]
    for label, _ in GAP_METRICS:
        header += [f"HSTU+ {label}", f"SessionRec {label}", f"gap {label}"]
    title = (f"Paradigm map: {ours.label} vs HSTU+ as {knob} varies (simulator `{base}`)")
    md = (markdown_table(header, rows) + f"\n\nLOSO test split, full catalog, seen positives "
          f"excluded; {seeds} seed(s), budget `{budget.name}`. Gap = 100 (SessionRec - HSTU+) "
          f"/ HSTU+ per seed, mean ± std over seeds. Every other simulator knob fixed "
          f"({'equal interactions per user' if knob == 'mean_session_length' else 'preset'}"
          f").\n")
    figure = metric_panels(
        list(values), {f"gap {label} (%)": {f"{ours.label} vs HSTU+": g[0]}
                       for label, g in gaps.items()},
        {f"gap {label} (%)": {f"{ours.label} vs HSTU+": g[1]} for label, g in gaps.items()},
        title, kind="line", xlabel=knob)
    for ax in figure.axes:
        if ax.get_visible():
            ax.axhline(0.0, color="grey", lw=0.8)
    payload = {"experiment": "paradigm_map", "knob": knob, "values": list(values),
               "session_overrides": list(session_overrides),
               "base": base, "simulator": [o for _, o in points],
               "gaps": {label: {"mean": g[0], "std": g[1]} for label, g in gaps.items()},
               "records": records, **provenance(None, budget, seeds, overrides)}
    name = f"paradigm_map_{knob}" + ("_options" if session_overrides else "")
    write_outputs(output, name, title, md, payload, figure)
    return payload
