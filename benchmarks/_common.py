"""Shared by the benchmark scripts: machine description and appending to RESULTS.md."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Long experiments run from a frozen checkout (a git worktree) so that editing the library
# meanwhile cannot change them; they record into the main tree's file through this variable.
RESULTS = Path(os.environ.get("SESSIONREC_RESULTS_MD",
                              Path(__file__).resolve().parent / "RESULTS.md"))
REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import tensorflow as tf

    return (f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, Python "
            f"{platform.python_version()}, TensorFlow {tf.__version__} (CPU)")


def git_commit() -> str:
    """Short HEAD commit, ``+dirty`` if tracked code (not the results) has uncommitted edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)benchmarks/RESULTS.md", ":(exclude)benchmarks/results"],
            cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if changed else "")


def command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [
        str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]])


def record(title: str, body: str) -> None:
    """Append a dated section (command, machine, commit, body) to RESULTS.md and print it."""
    section = (f"\n## {title}\n\n- date: {time.strftime('%Y-%m-%d %H:%M %Z')}\n"
               f"- command: `{command()}`\n- machine: {machine()}\n"
               f"- commit: {git_commit()}\n\n{body.strip()}\n")
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEvery section is appended by a script in "
                           "`benchmarks/`; it states the exact command, the machine and the "
                           "date. Ratios are measured side by side in one run.\n")
    with RESULTS.open("a") as fh:
        fh.write(section)
    print(section)


def write_table(path: Path | str, title: str, body: str) -> None:
    """``# title`` and ``body`` into the Markdown file ``path`` (a table a section of
    ``benchmarks/report.yaml`` cites), atomically, creating its directory."""
    from sessionrec_tf.files import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, f"# {title}\n\n{body}\n")


def publish(title: str, body: str, no_record: bool) -> None:
    """``record`` the section, or only print its body with ``--no-record``."""
    if no_record:
        print(body)
    else:
        record(title, body)


def peak_rss_mb(children: bool = False) -> float:
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def parser(doc: str | None) -> Any:
    """The scripts' argument parser: the module docstring as description, kept as written."""
    import argparse

    return argparse.ArgumentParser(description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def training_args(p: Any, smoke: bool, set_help: str = "a config override (repeatable)"
                  ) -> None:
    """``--data`` (required unless ``smoke``, :func:`add_smoke`'s answer), ``--config``
    (default the shipped ``sessionrec_hstu``) and ``--set KEY=VALUE`` (repeatable, into
    ``args.overrides``): the arguments of the scripts that train a config on a prepared
    dataset."""
    p.add_argument("--data", required=not smoke, help="a prepared dataset (tfrecords/NAME)")
    p.add_argument("--config", default="sessionrec_hstu")
    p.add_argument("--set", action="append", default=[], dest="overrides", help=set_help)


def old_tree_arg(p: Any, what: str = "each measurement") -> None:
    """``--old-tree PATH``: also time ``what`` with the library of an earlier checkout."""
    p.add_argument("--old-tree", default=None,
                   help=f"also time {what} with the library at this checkout (e.g. a git "
                        "worktree of an earlier commit)")


def old_tree_path(value: str | None) -> Path | None:
    """The checked ``--old-tree`` directory (it must hold the ``sessionrec_tf`` package)."""
    if not value:
        return None
    tree = Path(value).resolve()
    if not (tree / "sessionrec_tf").is_dir():
        raise SystemExit(f"error: --old-tree {tree}: no sessionrec_tf package there")
    return tree


def old_tree_note(tree: Path | None, unit: str) -> str:
    """The sentence that says which old code the ``old`` columns timed."""
    if tree is None:
        return ""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return (f" Old code: `{tree}` at {commit}, each {unit} timed with it just before the "
            "current code (same harness, same untrained weights).")


# ----------------------------------------------------------------------------- smoke runs
# `python benchmarks/X.py --smoke` runs the script end to end at a tiny size, in a temporary
# directory (SESSIONREC_SMOKE_DIR if set), recording into that directory's RESULTS.md instead
# of benchmarks/RESULTS.md: the test suite's check that every script still runs
# (tests/test_benchmark_smoke.py). Its numbers mean nothing.
SMOKE = "--smoke" in sys.argv[1:]


def _smoke_model() -> list[str]:
    """The experiments' ``smoke`` budget without its epoch count: a tiny model for smoke
    runs (read from the shipped budgets file, so the two cannot drift apart)."""
    import yaml

    budgets = yaml.safe_load((REPO / "sessionrec_tf" / "configs" / "grids" / "budgets.yaml")
                             .read_text())
    return [o for o in budgets["smoke"]["overrides"] if not o.startswith("train.epochs=")]


SMOKE_MODEL = _smoke_model()


def add_smoke(p: Any) -> bool:
    """Add ``--smoke`` to a script's parser; True when it was given (flags that are required
    otherwise take smoke defaults then)."""
    p.add_argument("--smoke", action="store_true",
                   help="run end to end at a tiny size in a temporary directory, recording "
                        "into its own RESULTS.md (checks that the script runs; numbers "
                        "meaningless)")
    if SMOKE:
        smoke_dir()  # records go to the smoke directory from now on
    return SMOKE


@functools.cache
def smoke_dir() -> Path:
    """The smoke run's directory; from now on :func:`record` writes into it."""
    global RESULTS
    given = os.environ.get("SESSIONREC_SMOKE_DIR")
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="sessionrec-smoke-"))
    path.mkdir(parents=True, exist_ok=True)
    RESULTS = path / "RESULTS.md"
    return path


# The test suite runs ~25 smoke scripts, most on the same tiny dataset and many on the same
# smoke runs. With SESSIONREC_SMOKE_CACHE set (tests/test_benchmark_smoke.py sets one
# directory for the whole session, shared by the pytest workers) the dataset is prepared and
# each (experiment, cell, protocol) run trained once, under a file lock, and reused: the
# dataset is read in place (nothing writes into a prepared dataset), runs are copied into
# the script's own smoke directory (scripts write next to them).
SMOKE_CACHE = "SESSIONREC_SMOKE_CACHE"


@contextlib.contextmanager
def _smoke_cached(key: str) -> Iterator[tuple[Path, bool]]:
    """``(directory, done)`` of one cache entry, held under its lock; ``done`` False: the
    caller fills ``directory`` (emptied first) and the entry is marked done when the block
    exits without an error."""
    root = Path(os.environ[SMOKE_CACHE])
    name = hashlib.sha1(key.encode()).hexdigest()[:16]
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path, marker = root / name, root / f"{name}.done"
        done = marker.exists()
        if not done and path.exists():
            shutil.rmtree(path)  # an earlier attempt failed part-way
        yield path, done
        if not done:
            marker.write_text(key + "\n")


def smoke_data(name: str = "tiny", min_item_interactions: int | None = None,
               **options: Any) -> Path:
    """A prepared simulator dataset (``tiny`` preset unless ``options`` say otherwise; the
    default filters, or ``min_item_interactions`` instead of theirs) in the smoke directory
    (or the smoke cache), prepared once."""
    def prepare(path: Path) -> None:
        import sessionrec_tf  # noqa: F401
        from sessionrec_tf.data import FilterOptions, PrepareOptions, prepare_dataset

        filters = (FilterOptions() if min_item_interactions is None
                   else FilterOptions(min_item_interactions=min_item_interactions))
        prepare_dataset("synthetic", None, path, {"size": "tiny", **options},
                        PrepareOptions(filters=filters), progress=False, log=None)

    if min_item_interactions is not None:
        name = f"{name}-min-item-{min_item_interactions}"
    if os.environ.get(SMOKE_CACHE):
        with _smoke_cached(f"data {name} {sorted(options.items())}") as (path, done):
            if not done:
                prepare(path)
        return path
    path = smoke_dir() / name
    if not (path / "dataset.json").exists():
        prepare(path)
    return path


def smoke_runs(data: Path, experiment: str, cells: list[str], protocols: list[str],
               evaluate: bool = True) -> Path:
    """Budget-``smoke`` runs of some cells of a grid experiment in the smoke directory
    (``OUTPUT/runs/<cell>/<protocol>/seed0``), trained once (per session with the smoke
    cache); returns OUTPUT."""
    import sessionrec_tf  # noqa: F401
    from sessionrec_tf.data import PreparedDataset
    from sessionrec_tf.experiments import BUDGETS, experiment_cells, run_grid

    out = smoke_dir() / "results"
    chosen = [c for c in experiment_cells(experiment)[0] if c.label in cells]
    dataset = PreparedDataset.load(data)

    def train(cells_: list[Any], protocols_: list[str], output: Path) -> None:
        run_grid(cells_, dataset, output, 1, protocols_, BUDGETS["smoke"], ks=(10, 50),
                 log=lambda _m: None, verbose=0, evaluate=evaluate)

    if not os.environ.get(SMOKE_CACHE):
        train(chosen, protocols, out)
        return out
    for cell in chosen:
        for protocol in protocols:
            key = f"runs {Path(data).resolve()} {experiment} {cell.label} {protocol} {evaluate}"
            with _smoke_cached(key) as (path, done):
                if not done:
                    train([cell], [protocol], path)
            shutil.copytree(path, out, dirs_exist_ok=True)
    return out


def add_run_args(p: Any, smoke: bool) -> None:
    """``--runs LABEL=DIR`` (repeatable), ``--split``, ``--protocol`` and ``--batch-size``:
    the arguments of a script that measures trained runs on a split."""
    p.add_argument("--runs", action="append", required=not smoke, metavar="LABEL=DIR")
    p.add_argument("--split", default="valid", choices=["valid", "test"])
    p.add_argument("--protocol", default="loso")
    p.add_argument("--batch-size", type=int, default=256)


def add_record_args(p: Any, smoke: bool, files: str | None) -> None:
    """``--output`` (a directory for ``files``; none without files), ``--title``, ``--note``
    and ``--no-record``."""
    if files:
        p.add_argument("--output", default=None, help=f"directory for {files}")
    p.add_argument("--title", required=not smoke)
    p.add_argument("--note", default="")
    p.add_argument("--no-record", action="store_true", help="print only")


def smoke_comparison(args: Any, title: str, name: str) -> None:
    """Point a run-comparing script's ``--runs``/``--versus``/``--title``/``--output`` at two
    smoke runs of the ablation grid (the first is the reference)."""
    cells = ["paper (mean)", "2 user vectors"]
    out = smoke_runs(smoke_data(), "ablation", cells, ["loso"], False)
    args.runs = [f"{c}={out / 'runs' / c / 'loso'}" for c in cells]
    args.versus, args.title, args.output = cells[0], title, str(out / name)


def json_cached(cache: Path | None, key: str, compute: Callable[[], Any],
                decode: Callable[[Any], Any] = lambda saved: saved) -> Any:
    """``decode(compute())`` through a JSON file in ``cache`` named by a hash of ``key``: a
    per-run result computed once (``cache`` None: no file). Written atomically, so a killed
    run leaves no half-written cache."""
    if cache is None:
        return decode(compute())
    path = cache / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
    if path.exists():
        return decode(json.loads(path.read_text()))
    from sessionrec_tf.files import atomic_write_text

    out = compute()
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out))
    return decode(out)


def run_dirs(spec: str) -> tuple[str, list[Path]]:
    """``LABEL=DIR`` -> (label, runs): DIR is a run directory (with ``run.json``) or a
    directory of ``seed<k>`` runs, in seed order."""
    label, eq, path = spec.partition("=")
    if not eq or not label or not path:
        raise SystemExit(f"error: --runs {spec!r}: expected LABEL=DIR")
    root = Path(path)
    if (root / "run.json").exists():
        return label, [root]
    seeds = sorted((d for d in root.glob("seed*")
                    if d.name[4:].isdigit() and (d / "run.json").exists()),
                   key=lambda d: int(d.name[4:]))
    if not seeds:
        raise SystemExit(f"error: --runs {spec!r}: {root} holds no run (run.json) nor seed<k> runs")
    return label, seeds


def pooled_run_dirs(specs: list[str]) -> dict[str, list[Path]]:
    """``--runs LABEL=DIR`` specs -> runs per label (:func:`run_dirs`); specs sharing a label
    are pooled (e.g. seeds trained into separate output directories), in the given order."""
    groups: dict[str, list[Path]] = {}
    for label, dirs in map(run_dirs, specs):
        groups.setdefault(label, []).extend(dirs)
    return groups


def best_epoch(history: list[dict], metric: str = "recall@100") -> int:
    """Index of a run's best epoch in its ``history.json``: the recorded ``selection`` value
    (the early-stopping rule's), else the validation ``metric``."""
    return max(range(len(history)),
               key=lambda i: history[i].get("selection", history[i]["valid"][metric]))
