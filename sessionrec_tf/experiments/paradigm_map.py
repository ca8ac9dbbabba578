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
``reference`` replaces HSTU+ by another config: ``reference="sessionrec_hstu"`` with
``session_overrides=["task.alpha=0"]`` maps an option of SessionRec-HSTU against its shipped
setting (written as ``paradigm_map_<knob>_options_vs_sessionrec_hstu``).
``reference_overrides`` change the reference cell only: ``reference_overrides=
["model.sse_gating=false"]`` maps SessionRec-HSTU against HSTU+ without its gate (suffix
``_vs_hstu_plus_options``; the same SessionRec-HSTU runs as the map against plain HSTU+ when
both write into one output directory). ``split="valid"``
trains without ever reading the test split and reports validation metrics instead (suffix
``_valid``), so that a map can inform a choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sessionrec_tf.data import PrepareOptions, prepare_dataset
from sessionrec_tf.data.sources.synthetic import DEFAULTS, PRESETS, SimulatorOptions
from sessionrec_tf.evaluation.run_eval import cached_evaluation, evaluate_run
from sessionrec_tf.experiments.grid import Budget, Cell, provenance, run_grid
from sessionrec_tf.experiments.grids import load_grid
from sessionrec_tf.experiments.outputs import markdown_table, metric_panels, write_outputs

OURS = "sessionrec_hstu"
# Row labels of the shipped configs, as Table 2 names them (one place for every label).
LABELS = {c.config: c.label for c in load_grid("table2").cells}
HSTU_PLUS = Cell(LABELS["hstu_plus"], "hstu_plus")
SPLITS = ("test", "valid")
GAP_METRICS = (("N@10", "ndcg@10"), ("R@100", "recall@100"))
KNOBS = tuple(k for k in SimulatorOptions.__dataclass_fields__ if k not in ("size", "seed"))
INTEGER_KNOBS = ("num_users", "num_items", "num_clusters")


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
    if knob in INTEGER_KNOBS and float(value).is_integer():
        value = int(value)  # --data-knob parses numbers as floats; counts must be integers
    options: dict[str, Any] = {"size": base, "seed": 0, **(extra or {}), knob: value}
    if knob == "mean_session_length":
        per_user = interactions_per_user or (preset["sessions_per_user"]
                                             * preset["mean_session_length"])
        options["sessions_per_user"] = max(3.0, per_user / value)
    SimulatorOptions(**options).resolved()  # refuse a bad value before any work
    return options


def _label(value: float) -> str:
    return f"{value:g}"


def _with(label: str, overrides: Sequence[str]) -> str:
    return label + (f" ({', '.join(overrides)})" if overrides else "")


def map_cells(reference: str, session_overrides: Sequence[str],
              reference_overrides: Sequence[str] = ()) -> tuple[Cell, Cell]:
    """(reference cell with ``reference_overrides``, SessionRec-HSTU cell with
    ``session_overrides``); ValueError when the two would be the same runs."""
    from sessionrec_tf.config import shipped_configs

    if reference not in shipped_configs():
        raise ValueError(f"paradigm_map reference {reference!r} is not a shipped config; "
                         f"valid: {shipped_configs()}")
    if reference == OURS and set(session_overrides) == set(reference_overrides):
        raise ValueError(f"paradigm_map with reference {OURS} needs different session and "
                         f"reference overrides (--session-set / --reference-set KEY=VALUE): "
                         f"otherwise both cells are the same runs")
    ours = Cell(_with(LABELS[OURS], session_overrides), OURS, tuple(session_overrides))
    return Cell(_with(LABELS.get(reference, reference), reference_overrides), reference,
                tuple(reference_overrides)), ours


def _metrics(records: list[dict[str, Any]], split: str, ks: Sequence[int]
             ) -> dict[tuple[str, int], dict[str, float]]:
    """(cell, seed) -> metrics on ``split`` (validation ones evaluated once, then cached)."""
    if split == "test":
        return {(r["cell"], r["seed"]): r["metrics"] for r in records}
    out = {}
    for r in records:
        policy = r["exclude_seen"]
        entry = (cached_evaluation(r["run"], "loso", ks, policy, policy, split=split)
                 or evaluate_run(r["run"], "loso", split, ks=ks, progress=False))
        r["metrics"] = entry["metrics"]
        out[(r["cell"], r["seed"])] = entry["metrics"]
    return out


def paradigm_map(output: Path, knob: str, values: Sequence[float], seeds: int, budget: Budget,
                 overrides: Sequence[str] = (), base: str = "demo",
                 interactions_per_user: float | None = None,
                 simulator: dict[str, Any] | None = None,
                 session_overrides: Sequence[str] = (), reference: str = "hstu_plus",
                 split: str = "test", reference_overrides: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """Train both models at every knob value; write ``OUTPUT/<name>.{md,json,png}`` (``name``,
    in the returned payload: ``paradigm_map_<knob>`` plus the suffixes of the module docstring).
    """
    if split not in SPLITS:
        raise ValueError(f"paradigm_map split must be one of {list(SPLITS)}, got {split!r}")
    ref, ours = map_cells(reference, session_overrides, reference_overrides)
    points = [(v, knob_options(knob, v, base, interactions_per_user, simulator)) for v in values]
    cells = (ref, ours)
    ks = (10, 100)
    records, rows, gaps = [], [], {label: ([], []) for label, _ in GAP_METRICS}
    for value, options in points:
        name = f"{knob}={_label(value)}"
        data = prepare_dataset("synthetic", None, output / "data" / name, options,
                               PrepareOptions(), progress=False, log=None)
        grid = run_grid(list(cells), data, output / name, seeds, ("loso",), budget,
                        overrides, ks, evaluate=split == "test")
        by = _metrics(grid.records, split, ks)
        records += [{**r, "knob": knob, "value": value} for r in grid.records]
        row = [_label(value), f"{data.counts['rows'] / data.counts['users']:.0f}",
               f"{data.counts['avg_session_length']:.2f}",
               f"{100 * data.counts['negatives'] / data.counts['rows']:.0f}%"]
        for label, metric in GAP_METRICS:
            per_seed = [100 * (by[(ours.label, s)][metric] - by[(ref.label, s)][metric])
                        / by[(ref.label, s)][metric] for s in range(seeds)]
            mean = float(np.mean(per_seed))
            std = float(np.std(per_seed, ddof=1)) if seeds > 1 else 0.0
            gaps[label][0].append(mean)
            gaps[label][1].append(std)
            both = [np.mean([by[(c.label, s)][metric] for s in range(seeds)]) for c in cells]
            row += [f"{both[0]:.4f}", f"{both[1]:.4f}",
                    f"{mean:+.1f}%" + (f" ± {std:.1f}" if seeds > 1 else "")]
        rows.append(row)
    header = [knob, "interactions/user", "session length", "negatives"]
    short = "ours" if ref.config == OURS else "SessionRec"
    for label, _ in GAP_METRICS:
        header += [f"{ref.label} {label}", f"{short} {label}", f"gap {label}"]
    title = (f"Paradigm map: {ours.label} vs {ref.label} as {knob} varies (simulator `{base}`"
             + (", validation" if split == "valid" else "") + ")")
    md = (markdown_table(header, rows) + f"\n\nLOSO {split} split, full catalog, seen "
          f"positives excluded; {seeds} seed(s), budget `{budget.name}`. Gap = 100 ({short} - "
          f"{ref.label}) / {ref.label} per seed, mean ± std over seeds. Every other simulator "
          f"knob fixed "
          f"({'equal interactions per user' if knob == 'mean_session_length' else 'preset'}"
          f").\n")
    figure = metric_panels(
        list(values), {f"gap {label} (%)": {f"{ours.label} vs {ref.label}": g[0]}
                       for label, g in gaps.items()},
        {f"gap {label} (%)": {f"{ours.label} vs {ref.label}": g[1]}
         for label, g in gaps.items()},
        title, kind="line", xlabel=knob)
    for ax in figure.axes:
        if ax.get_visible():
            ax.axhline(0.0, color="grey", lw=0.8)
    name = (f"paradigm_map_{knob}" + ("_options" if session_overrides else "")
            + (f"_vs_{ref.config}" + ("_options" if ref.overrides else "")
               if ref != HSTU_PLUS else "")
            + ("_valid" if split == "valid" else ""))
    payload = {"experiment": "paradigm_map", "name": name, "knob": knob, "values": list(values),
               "session_overrides": list(session_overrides), "reference": ref.config,
               "reference_overrides": list(ref.overrides),
               "split": split, "base": base, "simulator": [o for _, o in points],
               "gaps": {label: {"mean": g[0], "std": g[1]} for label, g in gaps.items()},
               "records": records, **provenance(None, budget, seeds, overrides)}
    write_outputs(output, name, title, md, payload, figure)
    return payload
