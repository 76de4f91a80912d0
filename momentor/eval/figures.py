"""The report's figures as base64 PNGs: predicted-vs-true timelines and training curves (matplotlib, Agg).

Also the readers of what they draw: timeline samples of each task (from its ground truth and predictions)
and the per-step training log (CSV or JSON Lines with ``step``, ``loss`` and an optional ``stage``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from momentor.eval.jsonio import EvalInputError


@dataclass
class TimelineSample:
    title: str
    length: float  # x extent (seconds, or frames for action segmentation)
    true: list[tuple[float, float, str]]  # (start, end, label)
    pred: list[tuple[float, float, str]]
    unit: str = "s"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def lanes(segments: list[tuple[float, float, str]]) -> list[int]:
    """A lane per segment so that overlapping segments never share one (greedy, in start order)."""
    lane_ends: list[float] = []
    assigned = [0] * len(segments)
    for k in sorted(range(len(segments)), key=lambda k: segments[k][0]):
        start, end, _ = segments[k]
        free = next((i for i, e in enumerate(lane_ends) if e <= start), None)
        if free is None:
            lane_ends.append(end)
            free = len(lane_ends) - 1
        lane_ends[free] = end
        assigned[k] = free
    return assigned


def timeline_png(sample: TimelineSample) -> str:
    """True segments above predicted ones; overlapping segments go to separate lanes; bars carry labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [("predicted", sample.pred), ("true", sample.true)]  # drawn bottom-up
    group_lanes = [lanes(segments) for _, segments in groups]
    heights = [max(assigned, default=0) + 1 for assigned in group_lanes]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * sum(heights)))
    colours, ticks, base = {}, [], 0.0
    for (name, segments), assigned, height in zip(groups, group_lanes, heights):
        for (start, end, label), lane in zip(segments, assigned):
            colour = colours.setdefault(label, plt.cm.tab20(len(colours) % 20))
            y = base + lane
            ax.broken_barh(
                [(start, max(end - start, sample.length * 0.002))],
                (y + 0.1, 0.8),
                facecolors=colour,
                edgecolors="black",
                linewidth=0.5,
                alpha=0.85,
            )
            room = int(100 * (end - start) / sample.length)  # characters that fit in the bar, roughly
            if label and room >= 4:
                ax.text(
                    (start + end) / 2,
                    y + 0.5,
                    label[:room],
                    ha="center",
                    va="center",
                    fontsize=7,
                    clip_on=True,
                )
        ticks.append((base + height / 2, name))
        base += height + 0.4
        ax.axhline(base - 0.2, color="#999", linewidth=0.6)
    ax.set_yticks([t for t, _ in ticks], [n for _, n in ticks])
    ax.set_xlim(0, sample.length)
    ax.set_ylim(0, base - 0.2)
    ax.set_xlabel("frames" if sample.unit == "frames" else "seconds")
    ax.set_title(sample.title[:110], fontsize=9)
    return _png(fig)


def training_curve_png(rows: list[dict]) -> str:
    """Every stage's curves over optimizer steps: the loss with its validation loss (dashed points), and,
    when the log has them, the learning rate and the throughput (samples/s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", "loss")] + [(key, label) for key, label in (("lr", "learning rate"),
                                                                    ("samples_per_s", "samples/s"))
                                   if any(key in r for r in rows)]
    fig, axes = plt.subplots(1, len(panels), figsize=(9 if len(panels) == 1 else 13, 3.2), squeeze=False)
    stages = list(dict.fromkeys(r.get("stage", "") for r in rows))
    for ax, (key, label) in zip(axes[0], panels):
        for stage in stages:
            points = [(r["step"], r[key]) for r in rows if r.get("stage", "") == stage and key in r]
            line, = ax.plot([p[0] for p in points], [p[1] for p in points], label=stage or key, linewidth=1.2)
            held = [(r["step"], r["val_loss"]) for r in rows if r.get("stage", "") == stage and "val_loss" in r]
            if key == "loss" and held:  # the held-out (validation) loss, in the stage's colour
                ax.plot([p[0] for p in held], [p[1] for p in held], "o--", color=line.get_color(), markersize=4,
                        label=f"{stage or 'loss'} (validation)")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if len(stages) > 1 or stages[0]:
        axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def read_training_log(path: str | Path) -> list[dict]:
    """Rows ``{"step": int, "loss": float, "stage": str[, "val_loss", "lr", "samples_per_s": float]}`` from a
    CSV or JSON Lines log (a training run's metrics.csv)."""
    path = Path(path)
    if not path.is_file():
        raise EvalInputError(f"{path}: training log not found")
    if path.suffix == ".jsonl":
        raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    else:
        with path.open(newline="") as f:
            raw = list(csv.DictReader(f))
    rows = []
    for number, record in enumerate(raw, start=1):
        if "step" not in record or "loss" not in record:
            raise EvalInputError(f"{path}: row {number} needs the columns step and loss (stage optional)")
        if record["loss"] in ("", None):
            continue  # a row logging other values only
        row = {"step": int(float(record["step"])), "loss": float(record["loss"]),
               "stage": str(record.get("stage") or "")}
        for key in ("val_loss", "lr", "samples_per_s"):
            if record.get(key) not in ("", None):
                row[key] = float(record[key])
        rows.append(row)
    return rows
