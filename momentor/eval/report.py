"""The HTML evaluation report: one self-contained page (figures as base64 PNGs), from a Jinja2 template.

It is written after the gate and before the decision is carried out, on both branches, so it shows the
candidate against the champion it was judged against. Sections (``templates/report.html.j2``):

- the gate's decision: passed or rejected, the failed checks with how many points they missed by, then per
  gated task the headline metric of the candidate, the champion and the baselines with their intervals and
  the paired differences, and every check;
- every metric of every task, the candidate next to the champion (re-scored on the same split) and the
  baselines, with the differences;
- predicted-vs-true timelines of sample videos, and the training curves of every stage that ran.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from momentor.eval.figures import TimelineSample, timeline_png, training_curve_png
from momentor.eval.jsonio import read_json
from momentor.eval.tasks import flatten

TEMPLATE = "report.html.j2"
#: reference models, in the order their columns appear
REFERENCES = ("champion", "fixed", "random")
#: what each task (an evaluator's name) is, for the headings
TASK_TITLES = {
    "grounding": "temporal grounding",
    "dense_captioning": "dense video captioning",
    "qvhighlights": "highlight detection (QVHighlights)",
    "action_segmentation": "action segmentation",
}


def _number(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _signed(value) -> str:
    return "" if value is None else f"{value:+.2f}"


def _plural(unit: str, n: int) -> str:
    return unit if n == 1 else {"query": "queries"}.get(unit, unit + "s")


def metric_rows(task: str, result: dict) -> dict[str, float]:
    """The values shown for a task: QVHighlights' ``brief`` block, every numeric leaf of the others."""
    if task == "qvhighlights" and isinstance(result.get("brief"), dict):
        return flatten(result["brief"])
    return flatten({k: v for k, v in result.items() if k != "items"})


def read_references(baseline_dir=None, champion_dir=None) -> dict[str, dict]:
    """``{model: {task: result}}`` of the baselines (``<dir>/<name>/<task>.json``) and the re-scored champion
    (the folder ``momentor rescore-champion`` wrote); absent folders give no entries."""
    from momentor.eval.champion import MARKER

    references: dict[str, dict] = {}
    for name in ("random", "fixed"):
        folder = Path(baseline_dir) / name if baseline_dir else None
        if folder is not None and folder.is_dir():
            references[name] = {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}
    if champion_dir and (Path(champion_dir) / MARKER).is_file():
        if read_json(Path(champion_dir) / MARKER).get("champion") is not None:
            references["champion"] = {p.stem: read_json(p) for p in sorted(Path(champion_dir).glob("*.json"))
                                      if p.name != MARKER}
    return references


def _tables(metrics: dict, references: dict) -> tuple[dict, dict]:
    tables, columns = {}, {}
    for task, result in metrics.items():
        if not isinstance(result, dict):
            continue
        refs = {name: metric_rows(task, references[name][task]) for name in REFERENCES
                if task in references.get(name, {})}
        columns[task] = list(refs)
        tables[task] = [{"name": name, "value": value, "refs": {r: refs[r].get(name) for r in refs}}
                        for name, value in metric_rows(task, result).items()]
    return tables, columns


def render(
    metrics: dict,
    decision: dict | None = None,
    references: dict | None = None,
    champion: str | None = None,
    timelines: dict[str, list[TimelineSample]] | None = None,
    training: list[dict] | None = None,
    title: str = "Momentor evaluation report",
) -> str:
    """The report as one HTML string (see the module docstring)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    references = references or {}
    tables, columns = _tables(metrics, references)
    checks = (decision or {}).get("reasons", [])
    by_model = {}
    for check in checks:
        name = check["check"].removeprefix("baseline:")
        by_model[(check["task"], name)] = check
    curve = None
    if training:
        curve = {"stages": list(dict.fromkeys(r.get("stage") or "loss" for r in training)),
                 "png": training_curve_png(training)}
    return env.get_template(TEMPLATE).render(
        title=title,
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        champion=champion,
        decision=decision,
        gate=(decision or {}).get("gate", {}),
        failed=[c for c in checks if c["verdict"] == "fail"],
        checks_by_model=by_model,
        references=references,
        tables=tables,
        columns=columns,
        timelines={task: [(s.title, timeline_png(s)) for s in samples] for task, samples in (timelines or {}).items()},
        training=curve,
        number=_number,
        signed=_signed,
        plural=_plural,
        titles=TASK_TITLES,
    )


def write(path: str | Path, page: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
