"""What a training run shows while it runs: a progress bar, a per-step metrics log, and its DVCLive tracking.

``<out>/metrics.csv`` has one row per optimizer step: ``step, stage, loss, token_loss, time_loss, lr,
samples_per_s, elapsed_s, val_loss`` (``val_loss``, the held-out loss, only at checkpoint steps and the
last). On resume, rows after the checkpoint's step are dropped (those steps run again), so the file always
describes one run, step by step, to full precision (resumed runs are compared with it exactly).

The tracker is DVCLive (``<out>/dvclive/``): ``plots/metrics/train/{loss,token_loss,time_loss,lr,
samples_per_s}.tsv``, ``plots/metrics/val/loss.tsv`` and ``metrics.json`` (the last values). DVCLive because
DVC already runs this pipeline locally: its files are plain TSV/JSON beside the run (no tracking server to
operate, nothing lost when a pod ends: they live on the run's volume), ``dvc plots show`` draws them (the
plots of the generated dvc.yaml name them), ``dvc exp show`` and VS Code's DVC extension compare runs, and
DVC Studio can follow them live. MLflow would need a tracking server in the cluster for the same. On resume
the tracker's folder is rebuilt from the kept rows of ``metrics.csv``, so it never holds steps that ran twice.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import time
from pathlib import Path

COLUMNS = ("step", "stage", "loss", "token_loss", "time_loss", "lr", "samples_per_s", "elapsed_s", "val_loss")


class MetricsLog:
    """Appends one CSV row per step, flushed at once (a killed run keeps every finished step)."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        rows = []
        if resume_step > 0 and path.exists():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with path.open("w", newline="") as f:  # rewrite: drops a half-written last line and undone steps
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        self.kept = [{k: _parse(k, v) for k, v in row.items()} for row in rows]
        self._file = path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, COLUMNS)

    def write(self, row: dict) -> None:
        self._writer.writerow({k: _format(row.get(k)) for k in COLUMNS})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _format(value):
    return repr(value) if isinstance(value, float) else value  # full precision: resumed runs compare exactly


def _parse(key: str, value):
    return int(value) if key == "step" else value if key == "stage" else float(value) if value not in ("", None) else None


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a metrics.csv (numbers as floats, step as int)."""
    with Path(path).open(newline="") as f:
        return [{k: _parse(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


#: DVCLive metric name -> metrics.csv column
TRACKED = {"train/loss": "loss", "train/token_loss": "token_loss", "train/time_loss": "time_loss",
           "train/lr": "lr", "train/samples_per_s": "samples_per_s", "val/loss": "val_loss"}


class Tracker:
    """The run's DVCLive folder, rebuilt from ``rows`` (the steps kept on resume), then one step at a time."""

    def __init__(self, folder: Path, rows: list[dict]):
        from dvclive import Live

        shutil.rmtree(folder, ignore_errors=True)
        # no dvc.yaml of its own (the generated one declares these plots) and no DVC experiment per run
        self.live = Live(dir=str(folder), dvcyaml=False, save_dvc_exp=False, report=None)
        for row in rows:
            self.log(row)

    def log(self, row: dict) -> None:
        self.live.step = row["step"]
        for name, column in TRACKED.items():
            if row.get(column) is not None:
                self.live.log_metric(name, row[column])
        self.live.make_summary()

    def close(self) -> None:
        self.live.end()


class Progress:
    """A tqdm bar over the stage's steps (ETA from tqdm) with loss and samples/s, plus the metrics log."""

    def __init__(
        self,
        out: Path,
        stage: str,
        total_steps: int,
        done_steps: int,
        global_batch: int,
        show: bool,
        write: bool,
    ):
        from tqdm import tqdm

        self.stage, self.global_batch = stage, global_batch
        self.log = MetricsLog(out / "metrics.csv", done_steps) if write else None  # one writer per run
        self.tracker = Tracker(out / "dvclive", self.log.kept) if write else None
        self.bar = tqdm(
            total=total_steps, initial=done_steps, desc=stage, unit="step", disable=not show, smoothing=0.1
        )
        self.started = self.last = time.perf_counter()

    def step(self, step: int, metrics: dict, lr: float, val_loss: float | None = None) -> dict:
        now = time.perf_counter()
        row = {
            "step": step,
            "stage": self.stage,
            **{k: float(metrics[k]) for k in ("loss", "token_loss", "time_loss")},
            "lr": float(lr),
            "samples_per_s": self.global_batch / max(now - self.last, 1e-9),
            "elapsed_s": now - self.started,
            "val_loss": val_loss,
        }
        self.last = now
        if self.log is not None:
            self.log.write(row)
            self.tracker.log(row)
        self.bar.set_postfix(
            loss=f"{row['loss']:.3f}", time=f"{row['time_loss']:.3f}", sps=f"{row['samples_per_s']:.1f}"
        )
        self.bar.update()
        return row

    def close(self) -> None:
        self.bar.close()
        if self.log is not None:
            self.log.close()
            self.tracker.close()


def write_summary(out: Path, epochs: float) -> Path:
    """``<out>/train_summary.json``: the run's end in numbers (KFP logs them as metrics)."""
    rows = read_metrics(out / "metrics.csv") if (out / "metrics.csv").exists() else []
    last = rows[-10:]
    summary = {"steps": len(rows), "epochs": round(epochs, 3)}
    if rows:
        summary.update(
            loss=rows[-1]["loss"],
            loss_last_10=statistics.fmean(r["loss"] for r in last),
            token_loss_last_10=statistics.fmean(r["token_loss"] for r in last),
            time_loss_last_10=statistics.fmean(r["time_loss"] for r in last),
            samples_per_s=statistics.median(r["samples_per_s"] for r in rows),
        )
        held_out = [r["val_loss"] for r in rows if r.get("val_loss") is not None]
        if held_out:
            summary["val_loss"] = held_out[-1]
    path = out / "train_summary.json"
    from momentor import atomic

    atomic.write_json(path, summary, indent=1)
    return path
