"""The experiment registry: every ``sessionrec experiment NAME`` and what it accepts.

One :class:`ExperimentRequest` carries everything any experiment can be asked for; each
:class:`Experiment` says which of its optional fields it reads, so a request field set for an
experiment that ignores it is refused (:func:`check_request`) instead of silently dropped,
and the command line needs no per-experiment dispatch.

Example::

    request = ExperimentRequest(output=Path("results/x"), data=PreparedDataset.load(...),
                                cells=("HSTU+", "SessionRec-HSTU"))
    run_experiment("table2", request)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sessionrec_tf.experiments.grids import BUDGETS, Budget


@dataclass(frozen=True)
class ExperimentRequest:
    """What to run. ``output``, ``seeds``, ``budget``, ``ks`` and ``overrides`` apply to every
    experiment; the other fields only to the experiments whose :attr:`Experiment.options`
    list them (None/empty = not given)."""

    output: Path
    data: Any = None  # PreparedDataset (typed loosely: this module must not import TF)
    seeds: int = 3
    budget: Budget = BUDGETS["small"]
    ks: tuple[int, ...] = (10, 100, 500)
    overrides: tuple[str, ...] = ()
    cells: tuple[str, ...] | None = None
    tuned: Path | None = None
    parts: tuple[str, ...] | None = None
    scaling_users: tuple[int, ...] | None = None
    data_knob: str | None = None
    session_overrides: tuple[str, ...] = ()
    base_size: str | None = None
    interactions_per_user: float | None = None
    session_lengths: tuple[float, ...] | None = None
    protocols: tuple[str, ...] | None = None
    reference: str | None = None
    reference_overrides: tuple[str, ...] = ()
    split: str | None = None


COMMON = ("output", "data", "seeds", "budget", "ks", "overrides")
OPTIONAL = tuple(f.name for f in fields(ExperimentRequest) if f.name not in COMMON)


@dataclass(frozen=True)
class Experiment:
    """One experiment: its runner, whether it needs a prepared dataset, and the optional
    request fields it reads."""

    name: str
    run: Callable[[ExperimentRequest], Any]
    needs_data: bool
    options: tuple[str, ...] = ()
    help: str = ""


def _table2(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.comparisons import table2

    return table2(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks,
                  protocols=r.protocols or ("loso", "loio"), cells=r.cells, tuned=r.tuned)


def _table3(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.comparisons import table3

    return table3(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks)


def _table4(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.comparisons import table4

    return table4(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks, cells=r.cells)


def _alpha(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.comparisons import alpha_sweep

    return alpha_sweep(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks)


def _ablation(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.comparisons import ablation

    return ablation(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks, cells=r.cells)


def _efficiency(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.efficiency import efficiency

    if r.session_lengths:
        return efficiency(r.output, r.budget, session_lengths=r.session_lengths,
                          overrides=r.overrides)
    return efficiency(r.output, r.budget, overrides=r.overrides)


def _scaling(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.scaling import scaling

    return scaling(r.output, r.seeds, r.budget, r.overrides, r.ks, sizes=r.scaling_users)


def _paradigm_map(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.paradigm_map import paradigm_map, parse_knob

    knob, values = parse_knob(r.data_knob or "")
    return paradigm_map(r.output, knob, values, r.seeds, r.budget, r.overrides,
                        base=r.base_size or "demo",
                        interactions_per_user=r.interactions_per_user,
                        session_overrides=r.session_overrides,
                        reference=r.reference or "hstu_plus", split=r.split or "test",
                        reference_overrides=r.reference_overrides)


def _report(r: ExperimentRequest) -> Any:
    from sessionrec_tf.experiments.report import PARTS, report

    return report(r.data, r.output, r.seeds, r.budget, r.overrides, r.ks,
                  parts=r.parts or PARTS, scaling_users=r.scaling_users)


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("table2", _table2, True, ("cells", "tuned", "protocols"),
               "GRU4Rec, SASRec(+), HSTU(+), SessionRec-HSTU under LOSO and LOIO"),
    Experiment("table3", _table3, True, (), "each backbone item-level vs session-level"),
    Experiment("table4", _table4, True, ("cells",), "ISE variants of SessionRec-HSTU"),
    Experiment("alpha", _alpha, True, (), "rank-loss weight sweep"),
    Experiment("ablation", _ablation, True, ("cells",),
               "SessionRec-HSTU's options beyond the paper, on and off"),
    Experiment("efficiency", _efficiency, False, ("session_lengths",),
               "training cost per session length"),
    Experiment("scaling", _scaling, False, ("scaling_users",), "quality vs dataset size"),
    Experiment("paradigm_map", _paradigm_map, False,
               ("data_knob", "session_overrides", "base_size", "interactions_per_user",
                "reference", "reference_overrides", "split"),
               "SessionRec-HSTU minus HSTU+ along one simulator knob"),
    Experiment("report", _report, True, ("parts", "scaling_users"),
               "several experiments into one REPORT.md"),
)}
EXPERIMENT_NAMES = tuple(EXPERIMENTS)
NEEDS_DATA = tuple(name for name, e in EXPERIMENTS.items() if e.needs_data)


def accepting(option: str) -> tuple[str, ...]:
    """The experiments that read the optional request field ``option``."""
    return tuple(name for name, e in EXPERIMENTS.items() if option in e.options)


def given_options(request: ExperimentRequest) -> list[str]:
    """The optional fields set in ``request`` (not None, not empty)."""
    return [name for name in OPTIONAL if getattr(request, name) not in (None, (), [])]


def check_request(name: str, request: ExperimentRequest,
                  label: Callable[[str], str] = str) -> Experiment:
    """The experiment ``name``, after refusing a request it cannot honour (ValueError).

    ``label`` renders a request field in messages (the command line passes its flag names).
    """
    experiment = EXPERIMENTS.get(name)
    if experiment is None:
        raise ValueError(f"unknown experiment {name!r}; valid experiments: "
                         f"{list(EXPERIMENT_NAMES)}")
    if experiment.needs_data and request.data is None:
        raise ValueError(f"experiment {name} needs {label('data')} (a prepared dataset)")
    if request.seeds < 1:
        raise ValueError(f"{label('seeds')} must be >= 1, got {request.seeds}")
    for option in given_options(request):
        if option not in experiment.options:
            raise ValueError(f"{label(option)} applies to {_names(accepting(option))} only, "
                             f"not {name}")
    if request.cells:
        from sessionrec_tf.experiments.comparisons import subset_cells

        subset_cells(name, request.cells)  # unknown labels, a subset without its reference row
    if "data_knob" in experiment.options:
        from sessionrec_tf.experiments.paradigm_map import SPLITS, map_cells, parse_knob

        if not request.data_knob:
            raise ValueError(f"experiment {name} needs {label('data_knob')} KNOB=V1,V2,...")
        parse_knob(request.data_knob)
        map_cells(request.reference or "hstu_plus", request.session_overrides,
                  request.reference_overrides)
        if request.split not in (None, *SPLITS):
            raise ValueError(f"{label('split')} must be one of {list(SPLITS)}, got "
                             f"{request.split!r}")
    return experiment


def run_experiment(name: str, request: ExperimentRequest,
                   label: Callable[[str], str] = str) -> Any:
    """Check the request, then run the experiment (results written into its ``output``)."""
    return check_request(name, request, label).run(request)


def _names(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
