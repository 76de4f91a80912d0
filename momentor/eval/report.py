"""The HTML evaluation report: one self-contained page (inline CSS, figures as base64 PNGs).

Sections: the gate decision (when given), one metric table per task with the champion's value and the
difference, predicted-vs-true timelines of sample videos, and the training curves of the run.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from momentor.eval.figures import TimelineSample, timeline_png, training_curve_png
from momentor.eval.tasks import flatten

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.up { color: #1a7f37; } .down { color: #c62828; } .muted { color: #777; }
.pass { background: #e6f4ea; color: #1a7f37; padding: 0.2rem 0.5rem; font-weight: bold; }
.fail { background: #fdecea; color: #c62828; padding: 0.2rem 0.5rem; font-weight: bold; }
img { max-width: 100%; display: block; margin: 0.4rem 0 1rem; }
"""


def _number(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def metric_rows(task: str, result: dict) -> dict[str, float]:
    """The values shown for a task: QVHighlights' ``brief`` block, every numeric leaf of the others."""
    if task == "qvhighlights" and isinstance(result.get("brief"), dict):
        return flatten(result["brief"])
    return flatten(result)


def metrics_section(metrics: dict, champion: dict | None) -> str:
    parts = []
    for task, result in metrics.items():
        if not isinstance(result, dict):
            continue
        ours = metric_rows(task, result)
        theirs = metric_rows(task, champion.get(task, {})) if champion else {}
        rows = []
        for name, value in ours.items():
            best = theirs.get(name)
            delta = "" if best is None else f"{value - best:+.2f}"
            css = "" if best is None or value == best else ("up" if value > best else "down")
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{_number(value)}</td>"
                f"<td class='muted'>{_number(best)}</td><td class='{css}'>{delta}</td></tr>"
            )
        parts.append(
            f"<h3>{html.escape(task)}</h3><table><tr><th>metric</th><th>this run</th>"
            f"<th>champion</th><th>Δ</th></tr>{''.join(rows)}</table>"
        )
    if not parts:
        return "<p class='muted'>No metrics.</p>"
    note = "" if champion else "<p class='muted'>No champion yet: nothing to compare against.</p>"
    return note + "".join(parts)


def decision_section(decision: dict) -> str:
    badge = (
        "<span class='pass'>PASSED</span>" if decision.get("passed") else "<span class='fail'>REJECTED</span>"
    )
    rows = []
    for r in decision.get("reasons", []):
        target = r.get("floor", r.get("champion"))
        mark = "✓" if r["passed"] else "✗"
        rows.append(
            f"<tr><td>{html.escape(r['metric'])}</td><td>{html.escape(r['check'])}</td>"
            f"<td>{_number(r.get('value'))}</td><td>{_number(target)}</td><td>{mark}</td>"
            f"<td style='text-align:left'>{html.escape(r.get('note', ''))}</td></tr>"
        )
    table = (
        "<table><tr><th>metric</th><th>check</th><th>value</th><th>bound</th><th></th><th>note</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return f"<p>Gate: {badge}</p>{table}"


def render(
    metrics: dict,
    champion: dict | None = None,
    decision: dict | None = None,
    timelines: dict[str, list[TimelineSample]] | None = None,
    training: list[dict] | None = None,
    title: str = "Momentor evaluation report",
) -> str:
    """The report as one HTML string."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>{html.escape(title)}</h1><p class='muted'>{when}</p>"]
    if decision is not None:
        body.append("<h2>Promotion gate</h2>" + decision_section(decision))
    body.append("<h2>Metrics against the champion</h2>" + metrics_section(metrics, champion))
    for task, samples in (timelines or {}).items():
        body.append(f"<h2>Timelines: {html.escape(task)}</h2>")
        for sample in samples:
            body.append(
                f"<img alt='{html.escape(sample.title)}' src='data:image/png;base64,{timeline_png(sample)}'>"
            )
    if training:
        body.append("<h2>Training curves</h2>")
        body.append(f"<img alt='training loss' src='data:image/png;base64,{training_curve_png(training)}'>")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write(path: str | Path, page: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
