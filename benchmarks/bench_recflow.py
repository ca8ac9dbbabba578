"""The whole path at RecFlow scale on this machine (issue 20, section 4): wall time and peak
memory of each step, each a `sessionrec` command in its own process.

    prepare (simulator `--size recflow`: 28,000 users, 1.5M items, ~23M interactions)
    -> train one epoch of SessionRec-HSTU (with its end-of-epoch validation over the catalog)
    -> evaluate LOSO test over the whole catalog (exact top-K)
    -> export (exact top-K and ScaNN) -> batch-score every test user (exact; and ScaNN;
       and through Beam when the beam extra is installed)

Every step's measurement is kept in ``WORK/steps.json``; a step whose output exists is not
run again (the script resumes after an interruption) unless ``--fresh``.

Usage::

    python benchmarks/bench_recflow.py --work /tmp/recflow [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SMOKE_MODEL, add_smoke, publish, smoke_dir, write_table  # noqa: E402


def _run(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run ``cmd``; ``(wall seconds, peak RSS GiB)`` of that process (and its children)."""
    t0 = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.time() - t0
    if proc.returncode:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"error: {shlex.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return wall, usage.ru_maxrss / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/sessionrec-recflow",
                   help="working directory (dataset, run, export, scores; kept)")
    p.add_argument("--threads", type=int, default=0,
                   help="TF intra/inter-op threads per process (0 = TensorFlow's default)")
    p.add_argument("--fresh", action="store_true", help="run every step again")
    p.add_argument("--no-record", action="store_true", help="print, do not append to RESULTS")
    p.add_argument("--output", default=None,
                   help="also write the table to this Markdown file (e.g. "
                        "benchmarks/results/recflow_scale.md, shown by the report)")
    smoke = add_smoke(p)
    args = p.parse_args()
    work = smoke_dir() / "recflow" if smoke else Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    steps_file = work / "steps.json"
    done = json.loads(steps_file.read_text()) if steps_file.exists() and not args.fresh else {}
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.threads:
        env |= {"TF_NUM_INTRAOP_THREADS": str(args.threads),
                "TF_NUM_INTEROP_THREADS": str(args.threads)}
    cli = [sys.executable, "-m", "sessionrec_tf.cli"]
    data, run, export = work / "data", work / "run", work / "export"
    size = "tiny" if smoke else "recflow"
    model = [a for o in (SMOKE_MODEL if smoke else []) for a in ("--set", o)]
    beam = importlib.util.find_spec("apache_beam") is not None
    steps = [
        ("prepare", [*cli, "prepare", "--source", "synthetic", "--size", size,
                     "--min-item-interactions", "1", "--output", str(data), "--quiet"],
         data / "dataset.json"),
        ("train 1 epoch (+ validation)", [
            *cli, "train", "--config", "sessionrec_hstu", "--data", str(data), "--output",
            str(run), "--set", "train.epochs=1", "--set", "train.checkpoint_every_steps=0",
            *model, "--verbose", "2"], run / "best" / "weights.index"),
        ("evaluate LOSO test (exact)", [*cli, "evaluate", "--run", str(run), "--protocol",
                                        "loso", "--split", "test", "--k", "10", "100"],
         run / "metrics.json"),
        ("export (exact + ScaNN)", [*cli, "export", "--run", str(run), "--output",
                                    str(export), "--index", "both", "--k", "100"],
         export / "1" / "saved_model.pb"),
        ("score all test users (exact)", [*cli, "score", "--model", str(export / "1"),
                                          "--data", str(data), "--output",
                                          str(work / "recs_exact"), "--quiet"],
         work / "recs_exact" / "_manifest.json"),
        ("score all test users (ScaNN)", [*cli, "score", "--model", str(export / "1"),
                                          "--data", str(data), "--output",
                                          str(work / "recs_scann"), "--scann", "--quiet"],
         work / "recs_scann" / "_manifest.json"),
    ]
    if smoke:  # ScaNN export/scoring and the Beam paths have their own tests: exact only
        steps = steps[:5]
        steps[3] = ("export (exact)", [*steps[3][1][:-3], "exact", "--k", "100"], steps[3][2])
    elif beam:
        steps.append(("score all test users (exact, Beam DirectRunner)", [
            *cli, "score", "--model", str(export / "1"), "--data", str(data), "--output",
            str(work / "recs_beam"), "--runner", "beam"], work / "recs_beam" / "_beam_score.json"))
        steps.append(("prepare (Beam DirectRunner)", [
            *steps[0][1][:-3], "--output", str(work / "data_beam"), "--runner", "beam",
            "--quiet"], work / "data_beam" / "dataset.json"))
    for name, cmd, output in steps:
        if name in done and output.exists():
            print(f"{name}: done earlier ({done[name]['seconds']:.0f} s)")
            continue
        print(f"{name}: {shlex.join(cmd[2:])}", flush=True)
        wall, rss = _run(cmd, env, work / f"{name.split()[0]}-{len(done)}.log")
        done[name] = {"seconds": round(wall, 1), "peak_rss_gib": round(rss, 2),
                      "command": shlex.join(["sessionrec", *cmd[3:]])}
        steps_file.write_text(json.dumps(done, indent=1) + "\n")
        print(f"  {wall:.1f} s, peak RSS {rss:.2f} GiB", flush=True)

    info = json.loads((data / "dataset.json").read_text())
    counts = info["counts"]
    same = ""
    if (work / "data_beam" / "dataset.json").exists():
        same = " " + _same_as_pandas(data, work / "data_beam")
    metrics = json.loads((run / "metrics.json").read_text())
    rows = ["| step | wall time | peak RSS | command |", "|---|---|---|---|"]
    rows += [f"| {n} | {d['seconds']:.0f} s | {d['peak_rss_gib']:.2f} GiB | `{d['command']}` |"
             for n, d in done.items()]
    flat = {k.rsplit("/", 1)[-1]: v for k, v in _flatten(metrics).items()
            if k.rsplit("/", 1)[-1] in ("ndcg@10", "recall@10", "recall@100")}
    body = ("\n".join(rows) + f"\n\nDataset: {counts['users']:,} users, {counts['items']:,} "
            f"items, {counts['rows']:,} interactions, {counts['sessions']:,} sessions (mean "
            f"length {counts['avg_session_length']:.1f}). Each step is one `sessionrec` "
            "process; peak RSS is that process's maximum resident set. Threads per process: "
            f"{args.threads or 'TensorFlow default'}. Test metrics after one epoch: "
            + ", ".join(f"{k} {v:.4f}" for k, v in sorted(flat.items())) + "." + same)
    title = f"The whole path at RecFlow scale ({size})"
    if args.output:
        write_table(args.output, title, body)
    publish(title, body, args.no_record)


def _same_as_pandas(local: Path, beam: Path) -> str:
    """Check the Beam preparation's output against the pandas one (counts, vocabularies,
    splits, removals); the record-for-record comparison is in tests/data/test_prepare_beam."""
    a, b = (json.loads((d / "dataset.json").read_text()) for d in (local, beam))
    for key in ("counts", "vocab", "vocab_fingerprint", "shards"):
        if a[key] != b[key]:
            raise SystemExit(f"error: the Beam preparation differs from pandas in {key}: "
                             f"{a[key]} vs {b[key]}")
    # the split time may differ in its last bits from a pandas output of an earlier commit
    # (np.quantile then; both paths now interpolate two order statistics); the cut points
    # cannot: no session starts strictly between the two statistics
    if not math.isclose(a["temporal_split_time"], b["temporal_split_time"], rel_tol=1e-12):
        raise SystemExit("error: the Beam preparation's temporal split time differs from pandas'")
    sa, sb = (json.loads((d / "splits.json").read_text()) for d in (local, beam))
    for s in (sa, sb):
        s["temporal"].pop("split_time")
    if sa != sb:
        raise SystemExit("error: the Beam preparation's splits differ from pandas'")
    ra, rb = (json.loads((d / "data_report.json").read_text()) for d in (local, beam))
    if ra["steps"] != rb["steps"] or ra["removals"] != rb["removals"]:
        raise SystemExit("error: the Beam preparation's data report differs from pandas'")
    return ("The Beam preparation's output equals the pandas one in counts, vocabularies "
            "(fingerprint), split time and summary, and every step and removal of the report.")


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}/")
        else:
            out[f"{prefix}{k}"] = v
    return out


if __name__ == "__main__":
    main()
