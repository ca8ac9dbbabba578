"""The paper's experiments, one command each (``sessionrec experiment NAME``).

table2, table3, table4, alpha, ablation (comparisons on any prepared dataset), efficiency,
scaling and paradigm_map (simulator), report (all of them into REPORT.md).
"""

from __future__ import annotations

from sessionrec_tf.experiments.comparisons import (
    ablation,
    alpha_sweep,
    experiment_cells,
    subset_cells,
    table2,
    table2_cells,
    table3,
    table4,
)
from sessionrec_tf.experiments.efficiency import efficiency
from sessionrec_tf.experiments.grid import BUDGETS, Budget, Cell, run_grid
from sessionrec_tf.experiments.paradigm_map import paradigm_map, parse_knob
from sessionrec_tf.experiments.registry import (
    EXPERIMENT_NAMES,
    EXPERIMENTS,
    NEEDS_DATA,
    Experiment,
    ExperimentRequest,
    run_experiment,
)
from sessionrec_tf.experiments.report import collect_report, report
from sessionrec_tf.experiments.scaling import scaling

__all__ = ["BUDGETS", "EXPERIMENTS", "EXPERIMENT_NAMES", "NEEDS_DATA", "Budget", "Cell",
           "Experiment", "ExperimentRequest", "run_experiment", "ablation", "alpha_sweep",
           "collect_report", "efficiency", "experiment_cells", "paradigm_map", "parse_knob",
           "report", "run_grid", "scaling", "subset_cells", "table2", "table2_cells", "table3",
           "table4"]
