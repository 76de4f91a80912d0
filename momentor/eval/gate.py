"""Promotion gate and champion: absolute floors, non-regression against the champion, atomic promotion.

A metric is *gated* when ``gate.floors`` lists it (dotted key into the combined metrics file, e.g.
``grounding.R1@0.5`` or ``qvhighlights.brief.MR-full-mAP``; a floor of 0 gates it against the champion
only). For each gated metric the decision checks

- ``floor``: value >= floor (a gated metric missing from the metrics file fails);
- ``champion``: value >= champion's value - ``gate.max_regression`` (skipped, and said so, when there is no
  champion yet or the champion has no such metric).

The decision artifact, one JSON file read by the KFP pipeline's ``dsl.If``, the Airflow DAG's branch and
DVC, is ``{"passed": bool, "reasons": [{"metric", "check", "value", "floor" | "champion", "passed",
"note"?}], "champion": path | null, "metrics": path, "max_regression": float}``.

The champion is a folder (default ``<paths.work>/champion``) holding ``checkpoint/``, ``metrics.json`` and
``promotion.json``. It is a symlink to one release in ``<champion>.releases/<id>/``; promotion builds the
new release completely, then swaps the symlink with one ``rename``, so a reader sees the old champion or
the new one, never a half-copied folder. Old releases stay (rollback = point the link back).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path

from momentor.eval.jsonio import EvalInputError, write_json
from momentor.eval.tasks import flatten, read_metrics

CHAMPION_METRICS = "metrics.json"


def champion_metrics(champion: str | Path) -> dict | None:
    """The metrics stored with the champion, or None when there is no champion yet."""
    path = Path(champion) / CHAMPION_METRICS
    return read_metrics(path) if path.is_file() else None


def decide(
    metrics: dict, floors: dict[str, float], champion: dict | None, max_regression: float = 0.0
) -> dict:
    """The gate decision for ``metrics`` (a combined metrics dict); see the module docstring."""
    values = flatten(metrics)
    best = flatten(champion) if champion is not None else None
    reasons = []
    for key, floor in floors.items():
        value = values.get(key)
        floor_ok = value is not None and value >= floor
        reason = {"metric": key, "check": "floor", "value": value, "floor": floor, "passed": floor_ok}
        if value is None:
            reason["note"] = "missing from the metrics file; evaluate this task or remove its floor"
        reasons.append(reason)
        if best is None:
            continue
        if key not in best:
            reasons.append(
                {
                    "metric": key,
                    "check": "champion",
                    "value": value,
                    "champion": None,
                    "passed": True,
                    "note": "the champion has no such metric; not compared",
                }
            )
            continue
        ok = value is not None and value >= best[key] - max_regression
        reasons.append(
            {"metric": key, "check": "champion", "value": value, "champion": best[key], "passed": ok}
        )
    return {"passed": all(r["passed"] for r in reasons), "reasons": reasons, "max_regression": max_regression}


def run_gate(metrics_path, floors: dict[str, float], champion_dir, max_regression: float, out) -> dict:
    """Decide on the metrics file at ``metrics_path`` and write the decision artifact to ``out``."""
    metrics_path = Path(metrics_path)
    if not metrics_path.is_file():
        raise EvalInputError(
            f"{metrics_path}: no metrics file; run momentor evaluate ... --metrics {metrics_path}"
        )
    champion = champion_metrics(champion_dir) if champion_dir else None
    decision = decide(read_metrics(metrics_path), floors, champion, max_regression)
    decision["champion"] = str(champion_dir) if champion is not None else None
    decision["metrics"] = str(metrics_path)
    if champion is None:
        decision["note"] = "no champion yet: only the floors were checked"
    write_json(out, decision)
    return decision


def promote(checkpoint, metrics, champion, decision: dict | None = None, force: bool = False,
            keep: int | None = None) -> Path:
    """Make ``checkpoint`` (a folder) with its ``metrics`` file the champion; returns the release folder.

    ``keep``: past releases kept for rollback (None keeps all); older ones are removed after the swap.
    """
    checkpoint, metrics, champion = Path(checkpoint), Path(metrics), Path(champion)
    if decision is None and not force:
        raise EvalInputError(
            "no gate decision given; pass --decision decision.json (or --force to skip the gate)"
        )
    if decision is not None and not decision.get("passed") and not force:
        failed = [r["metric"] for r in decision.get("reasons", []) if not r["passed"]]
        raise EvalInputError(f"the gate rejected this model (failed: {', '.join(failed)}); not promoting")
    if not checkpoint.is_dir():
        raise EvalInputError(f"{checkpoint}: checkpoint folder not found")
    if not metrics.is_file():
        raise EvalInputError(f"{metrics}: metrics file not found")
    releases = champion.parent / f"{champion.name}.releases"
    releases.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    release_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    staging = releases / f".{release_id}.partial"
    shutil.copytree(checkpoint, staging / "checkpoint", symlinks=False)
    shutil.copy2(metrics, staging / CHAMPION_METRICS)
    sidecar = metrics.with_suffix(".config.yaml")
    if sidecar.is_file():
        shutil.copy2(sidecar, staging / "metrics.config.yaml")
    record = {
        "promoted_at": stamp,
        "checkpoint": str(checkpoint.resolve()),
        "metrics": str(metrics.resolve()),
        "decision": decision,
        "forced": force and not (decision or {}).get("passed", False),
    }
    (staging / "promotion.json").write_text(json.dumps(record, indent=4) + "\n")
    release = releases / release_id
    os.rename(staging, release)
    _point(champion, release)
    if keep is not None:
        prune_releases(champion, keep)
    return release


def prune_releases(champion: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest past releases of ``champion``; the current one always stays.

    Releases are ordered by their promotion time (the folder's modification time, then its name). Returns
    the removed folders.
    """
    champion = Path(champion)
    releases = champion.parent / f"{champion.name}.releases"
    current = champion.resolve() if champion.is_symlink() else None
    past = [r for r in releases.iterdir() if r.is_dir() and not r.name.startswith(".") and r.resolve() != current]
    past.sort(key=lambda r: (r.stat().st_mtime_ns, r.name), reverse=True)
    removed = past[keep:]
    for release in removed:
        shutil.rmtree(release)
    return removed


def _point(champion: Path, release: Path) -> None:
    """Atomically make ``champion`` a symlink to ``release`` (relative, so the work folder can move)."""
    if champion.exists() and not champion.is_symlink():
        # a plain folder from before releases existed: keep it as a release, then link
        os.rename(champion, champion.parent / f"{champion.name}.releases" / f"legacy-{uuid.uuid4().hex[:6]}")
    link = champion.parent / f".{champion.name}.{uuid.uuid4().hex[:6]}.link"
    os.symlink(os.path.relpath(release, champion.parent), link)
    os.replace(link, champion)
