"""Promotion gate: may the candidate replace the champion? Decided on paired bootstrap intervals.

Every task the candidate was evaluated on (the tasks of its combined metrics file) is gated on its headline
metric (:mod:`momentor.eval.items`: grounding R1@0.5 per query, dense-captioning METEOR per video), each
comparison made on the *same items* with :func:`momentor.eval.bootstrap.paired_difference`:

- ``baseline:random`` and ``baseline:fixed`` (:mod:`momentor.infer.baselines`, written by ``momentor predict
  --baseline`` on the same split): always computed and shown; a task listed in ``gate.beat_random`` /
  ``gate.beat_fixed`` must beat that baseline with confidence: the lower bound of (candidate - baseline)
  > 0. By default grounding must beat the random window (an untrained model fails here); the paper preset
  lists every task in both. A listed task without its baseline result fails and says how to make one.
- ``champion``: the previous champion re-scored on the candidate's split (:func:`momentor.eval.champion.rescore`).
  Rejected only when the interval says the candidate is worse by more than ``gate.tolerance`` points:
  the upper bound of (candidate - champion) < -tolerance. A run-to-run wobble of a few points on 66 queries
  is not a regression; a candidate identical to the champion has the interval [0, 0]. Skipped, and said so,
  when there is no champion yet.
- ``finite_weights``: the candidate's checkpoint (``--checkpoint``) holds no NaN or infinite tensor.
- ``floor``: optional absolute floors, ``gate.floors`` (dotted keys into the metrics file, e.g.
  ``grounding.R1@0.5: 20``).

Highlight detection (``qvhighlights``: HL-min-VeryGood-mAP per query) and action segmentation (Edit per
video) are gated like the others. A result without per-item scores (QVHighlights predictions without saliency,
a task this module does not know) gets one ``skipped`` check that says so (its floors still apply).

The decision artifact, one JSON file read by the KFP pipeline's ``dsl.If``, the Airflow DAG's branch, DVC
and the report: ``{"passed", "reasons": [{"task", "metric", "check", "value", "reference": {"name",
"value"}, "difference", "interval": [low, high], "confidence", "gated", "verdict", "passed", "shortfall",
"note"}], "tasks": {task: {"metric", "unit", "items", "models": {name: {"value", "low", "high"}}}},
"champion", "gate": {...}}``. ``verdict`` is ``pass``, ``fail``, ``shown`` (computed, not gated) or
``skipped``; ``shortfall`` is how many points a failed check missed by.

The decision is bound to what it judged: ``"candidate": {"checkpoint", "checkpoint_digest", "metrics_digest"}``
and ``"champion_release"`` (the release the champion pointed at). ``momentor promote`` checks all three again
and refuses a decision about another checkpoint, other metrics, or a champion that changed since.
``"relaxed"`` lists the settings that ask less than the package's defaults (e.g. ``gate.beat_random=[]`` from a
trigger form): a weaker gate is allowed, never silent.
"""

from __future__ import annotations

from pathlib import Path

from momentor.eval import champion as champion_lib
from momentor.eval.bootstrap import mean_interval, paired_difference
from momentor.eval.items import HEADLINES, paired_values, read_result
from momentor.eval.jsonio import EvalInputError, read_json, write_json
from momentor.eval.tasks import flatten, read_metrics
from momentor.hashing import file_sha256

#: task -> the baselines written for it by ``momentor baselines`` (every gated task has both)
BASELINES = {task: ("random", "fixed") for task in HEADLINES}


def decide(metrics: dict, candidate: dict, baselines: dict, champion: dict | None, gate_cfg,
           champion_note: str = "no champion yet") -> dict:
    """The gate decision; see the module docstring.

    Args:
        metrics: the candidate's combined metrics (its tasks are the evaluated tasks; floors read it).
        candidate: task -> the candidate's result (with items), for every gated task in ``metrics``.
        baselines: baseline name -> task -> result.
        champion: task -> the champion's result on the same split, or None when there is no champion.
        gate_cfg: the ``gate`` config section.
    """
    boot = {"resamples": gate_cfg.resamples, "seed": gate_cfg.seed, "confidence": gate_cfg.confidence}
    checks, tasks = [], {}
    for task in metrics:
        if task not in HEADLINES or task not in candidate:
            checks.append(_check(task, "-", "items", verdict="skipped",
                                 note="this task has no per-item scores: only its floors are gated"))
            continue
        ours = candidate[task]
        metric, unit = HEADLINES[task]
        values = list(ours["items"]["values"].values())
        ci = mean_interval(values, **boot)
        models = {"candidate": _summary(ci)}
        for name in BASELINES.get(task, ()):
            gated = task in (gate_cfg.beat_random if name == "random" else gate_cfg.beat_fixed)
            reference = baselines.get(name, {}).get(task)
            if reference is None:
                checks.append(_check(
                    task, metric, f"baseline:{name}", value=ci.value, gated=gated,
                    verdict="fail" if gated else "skipped",
                    note=f"no {name} baseline result for {task}: run momentor predict --baseline {name} and "
                         f"momentor evaluate {task} on it (pass its folder as --baseline-results)"))
                continue
            models[name] = _summary(mean_interval(list(reference["items"]["values"].values()), **boot))
            diff = paired_difference(*paired_values(ours, reference, f"{name} baseline ({task})"), **boot)
            checks.append(_beats(task, metric, name, ci.value, models[name]["value"], diff, gated,
                                 f"gate.beat_{name}"))
        if champion is None:
            checks.append(_check(task, metric, "champion", value=ci.value, verdict="skipped",
                                 note=f"{champion_note}: not compared"))
        elif task not in champion:
            checks.append(_check(task, metric, "champion", value=ci.value, verdict="skipped",
                                 note=f"the champion was not scored on {task}: not compared"))
        else:
            ref = champion[task]
            models["champion"] = _summary(mean_interval(list(ref["items"]["values"].values()), **boot))
            diff = paired_difference(*paired_values(ours, ref, f"champion ({task})"), **boot)
            checks.append(_not_worse(task, metric, ci.value, models["champion"]["value"], diff,
                                     gate_cfg.tolerance, champion_note))
        tasks[task] = {"metric": metric, "unit": unit, "items": len(values), "models": models}
    checks.extend(_floors(metrics, gate_cfg.floors))
    return {"passed": all(c["passed"] for c in checks), "reasons": checks, "tasks": tasks,
            "gate": {**boot, "tolerance": gate_cfg.tolerance, "beat_random": list(gate_cfg.beat_random),
                     "beat_fixed": list(gate_cfg.beat_fixed), "floors": dict(gate_cfg.floors)}}


def _summary(interval) -> dict:
    return {"value": round(interval.value, 4), "low": round(interval.low, 4), "high": round(interval.high, 4)}


def _check(task, metric, check, value=None, reference=None, diff=None, gated=True, verdict="pass",
           shortfall=None, note="") -> dict:
    return {
        "task": task,
        "metric": metric,
        "check": check,
        "value": None if value is None else round(value, 4),
        "reference": reference,
        "difference": None if diff is None else round(diff.value, 4),
        "interval": None if diff is None else [round(diff.low, 4), round(diff.high, 4)],
        "confidence": None if diff is None else diff.confidence,
        "gated": gated,
        "verdict": verdict,
        "passed": verdict != "fail",
        "shortfall": None if shortfall is None else round(shortfall, 4),
        "note": note,
    }


def _beats(task, metric, name, value, reference, diff, gated, switch) -> dict:
    better = diff.low > 0
    level = f"{100 * diff.confidence:g}%"
    if better:
        note = f"better than the {name} baseline: the {level} interval of the difference lies above 0"
    else:
        note = (f"not better than the {name} baseline with {level} confidence: the difference's lower bound "
                f"is {diff.low:+.2f} points, it must be above 0")
    if not gated:
        note += f" (shown, not gated: {switch} does not list this task)"
    return _check(task, metric, f"baseline:{name}", value, {"name": name, "value": round(reference, 4)}, diff,
                  gated, verdict=("pass" if better else "fail") if gated else "shown",
                  shortfall=None if better else -diff.low, note=note)


def _not_worse(task, metric, value, reference, diff, tolerance, about) -> dict:
    worse = diff.high < -tolerance
    if worse:
        note = (f"worse than the champion: even the upper bound of the difference, {diff.high:+.2f} points, is "
                f"below -{tolerance:g} (gate.tolerance) by {-tolerance - diff.high:.2f}")
    else:
        note = (f"not a regression beyond the tolerance: the upper bound {diff.high:+.2f} is at least "
                f"-{tolerance:g}")
    return _check(task, metric, "champion", value, {"name": "champion", "value": round(reference, 4)}, diff,
                  verdict="fail" if worse else "pass", shortfall=-tolerance - diff.high if worse else None,
                  note=f"{note} ({about})")


def _floors(metrics: dict, floors: dict[str, float]) -> list[dict]:
    values = flatten(metrics)
    checks = []
    for key, floor in floors.items():
        task, _, metric = key.partition(".")
        value = values.get(key)
        reference = {"name": "floor", "value": floor}
        if value is None:
            checks.append(_check(task, metric, "floor", None, reference, verdict="fail",
                                 note="missing from the metrics file; evaluate this task or remove its floor"))
        else:
            ok = value >= floor
            checks.append(_check(task, metric, "floor", value, reference, verdict="pass" if ok else "fail",
                                 shortfall=None if ok else floor - value,
                                 note=f"{value:.2f} {'>=' if ok else '<'} floor {floor:g}"))
    return checks


def relaxed_settings(gate_cfg) -> list[str]:
    """The gate settings of this run that ask less than the package's defaults (a trigger form's overrides,
    a hand-edited params file): recorded in the decision, logged and shown in the report."""
    from momentor.config import from_dict

    default = from_dict({}).gate
    relaxed = [f"gate.beat_{kind}: {task} dropped" for kind in ("random", "fixed")
               for task in getattr(default, f"beat_{kind}") if task not in getattr(gate_cfg, f"beat_{kind}")]
    if gate_cfg.tolerance > default.tolerance:
        relaxed.append(f"gate.tolerance: {gate_cfg.tolerance} points (default {default.tolerance})")
    if gate_cfg.confidence < default.confidence:
        relaxed.append(f"gate.confidence: {gate_cfg.confidence} (default {default.confidence})")
    relaxed += [f"gate.floors.{key}: {default.floors[key]} dropped or lowered" for key in default.floors
                if gate_cfg.floors.get(key, float("-inf")) < default.floors[key]]
    return relaxed


def _weights_check(checkpoint) -> dict:
    from momentor.model.checkpoint import nonfinite_tensors

    try:
        bad = nonfinite_tensors(checkpoint)
    except FileNotFoundError as err:
        raise EvalInputError(str(err)) from err
    note = (f"non-finite values in {len(bad)} tensor(s): {', '.join(bad[:5])}; training diverged, do not ship it"
            if bad else "every trainable tensor is finite")
    return _check("-", "-", "finite_weights", verdict="fail" if bad else "pass", note=note)


def run_gate(metrics_path, results_dir, baseline_dir, champion_results, champion_dir, gate_cfg, out,
             checkpoint=None) -> dict:
    """Decide on the candidate's files and write the decision artifact to ``out``.

    ``results_dir``: the candidate's ``<task>.json`` results (default: the metrics file's folder);
    ``baseline_dir``: ``<name>/<task>.json`` baseline results; ``champion_results``: the folder
    :func:`momentor.eval.champion.rescore` wrote (None: only allowed while there is no champion).
    """
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        raise EvalInputError(
            f"{metrics_path}: no metrics file; run momentor evaluate ... --metrics {metrics_path}"
        )
    metrics = read_metrics(metrics_path)
    results_dir = Path(results_dir) if results_dir else metrics_path.parent
    gated = [t for t in metrics if t in HEADLINES]
    candidate = {}
    for task in gated:
        path = results_dir / f"{task}.json"
        if path.is_file() and "items" not in read_json(path):
            continue  # QVHighlights windows without saliency: no per-item headline, decide() says so
        candidate[task] = read_result(path, task)
    baselines = {}
    if baseline_dir:
        for name in ("random", "fixed"):
            for task in gated:
                path = Path(baseline_dir) / name / f"{task}.json"
                if task in BASELINES and path.is_file():
                    baselines.setdefault(name, {})[task] = read_result(path, task)
    champion, note = champion_lib.read_rescored(champion_results, champion_dir)
    decision = decide(metrics, candidate, baselines, champion, gate_cfg, note)
    if checkpoint is not None:
        decision["reasons"].insert(0, _weights_check(checkpoint))
        decision["passed"] = all(c["passed"] for c in decision["reasons"])
    decision["candidate"] = {
        "checkpoint": None if checkpoint is None else str(Path(checkpoint).resolve()),
        "checkpoint_digest": None if checkpoint is None else champion_lib.checkpoint_digest(Path(checkpoint)),
        "metrics_digest": file_sha256(metrics_path),
    }
    decision["champion_release"] = champion_lib.current_release(champion_dir)
    decision["relaxed"] = relaxed_settings(gate_cfg)
    decision["champion"] = str(champion_dir) if champion is not None else None
    decision["champion_note"] = note
    decision["metrics"] = str(metrics_path)
    write_json(out, decision)
    return decision
