"""The champion: its release folders, atomic promotion, and its re-scoring on a candidate's split.

The champion is a folder (default ``<paths.work>/champion``), a symlink to one release in
``<champion>.releases/<id>/`` holding

- ``model/``: the promoted model in the Hugging Face layout (``config.json``, ``model.safetensors``, a model
  card with its metrics, the baselines beside them and its data version: :mod:`momentor.model.pretrained`);
  what ``momentor serve`` and ``Momentor.from_pretrained`` load (releases made before this layout hold a
  training ``checkpoint/`` instead, and still load);
- ``metrics.json`` (+ ``metrics.config.yaml``): its aggregate metrics when it was promoted;
- ``results/<task>.json``: its per-item results (each with the fingerprint of the ground truth it was
  scored on, :mod:`momentor.eval.items`);
- ``predictions/<task>.json``: its predictions on that split;
- ``promotion.json``: when, from what (with the checkpoint's digest), with which gate decision, on which split
  fingerprints.

Promoting the champion's own checkpoint again (a retried task, a re-run) changes nothing. Otherwise promotion
builds the new release completely, then swaps the symlink with one ``rename``, so a reader sees the
old champion or the new one, never a half-copied folder. Old releases stay (rollback = point the link back),
up to ``gate.keep_releases``.

The gate compares a candidate with the champion *on the candidate's items* (:func:`rescore`): the champion's
stored predictions are re-scored when the split's ground truth is unchanged (same fingerprint), otherwise
the champion's checkpoint predicts the split again. Its results go to a folder with a ``champion.json``
marker, ``{"champion": null}`` when there is no champion yet, so a pipeline step can always run it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from momentor.eval.items import HEADLINES
from momentor.eval.jsonio import EvalInputError, read_json, write_json
from momentor.eval.tasks import read_metrics
from momentor.hashing import file_sha256

log = logging.getLogger(__name__)

CHAMPION_METRICS = "metrics.json"
MARKER = "champion.json"


def champion_metrics(champion: str | Path) -> dict | None:
    """The metrics stored with the champion, or None when there is no champion yet."""
    path = Path(champion) / CHAMPION_METRICS
    return read_metrics(path) if path.is_file() else None


MODEL = "model"
LEGACY_MODEL = "checkpoint"  # releases made before the Hugging Face layout


def model_folder(champion: str | Path) -> Path:
    """The champion's model folder (a released model, or a training checkpoint in older releases)."""
    champion = Path(champion)
    return champion / LEGACY_MODEL if (champion / LEGACY_MODEL).is_dir() else champion / MODEL


def exists(champion: str | Path) -> bool:
    return model_folder(champion).is_dir()


# ---------------------------------------------------------------------------------------------------------
# promotion


def promote(checkpoint, metrics, champion, decision: dict | None = None, force: bool = False,
            keep: int | None = None, results=None, predictions=None, baselines=None,
            data_version: str | None = None) -> Path:
    """Make ``checkpoint`` (a folder) with its ``metrics`` file the champion; returns the release folder.

    ``results``: folder of the candidate's task results (``<task>.json`` with items); ``predictions``: folder
    of its prediction files. Both are stored so that the next gate can re-score this champion on the same
    items without predicting again. ``baselines`` (``{name: {task: result}}``, as
    :func:`momentor.eval.report.read_references` reads the baselines step's folder) and ``data_version`` go
    into the released model's card. ``keep``: past releases kept for rollback (None keeps all).
    """
    checkpoint, metrics, champion = Path(checkpoint), Path(metrics), Path(champion)
    if decision is None and not force:
        raise EvalInputError(
            "no gate decision given; pass --decision decision.json (or --force to skip the gate)"
        )
    if decision is not None and not decision.get("passed") and not force:
        raise EvalInputError(f"the gate rejected this model (failed: {', '.join(failed_checks(decision))}); "
                             "not promoting")
    if not checkpoint.is_dir():
        raise EvalInputError(f"{checkpoint}: checkpoint folder not found")
    from momentor.model import pretrained

    try:
        pretrained.resolve(checkpoint)
    except FileNotFoundError as err:
        raise EvalInputError(f"{checkpoint} is not a model to promote: {err}") from None
    if not metrics.is_file():
        raise EvalInputError(f"{metrics}: metrics file not found")
    digest = checkpoint_digest(checkpoint)
    if exists(champion) and _promotion(champion).get("checkpoint_digest") == digest:
        # a retried promote task (its first try succeeded), or a re-run on an unchanged candidate
        log.info("%s is already the champion (%s); nothing to promote", checkpoint, champion.resolve().name)
        return champion.resolve()
    if decision is not None and not force:
        _check_binding(decision, checkpoint, metrics, champion)
    releases = champion.parent / f"{champion.name}.releases"
    releases.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    release_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    staging = releases / f".{release_id}.partial"
    pretrained.release(checkpoint, staging / MODEL, metrics=read_metrics(metrics), baselines=baselines or {},
                       data_version=data_version)
    shutil.copy2(metrics, staging / CHAMPION_METRICS)
    sidecar = metrics.with_suffix(".config.yaml")
    if sidecar.is_file():
        shutil.copy2(sidecar, staging / "metrics.config.yaml")
    fingerprints = {}
    for task in HEADLINES:
        result = Path(results) / f"{task}.json" if results else None
        if result is not None and result.is_file():
            (staging / "results").mkdir(exist_ok=True)
            shutil.copy2(result, staging / "results" / result.name)
            fingerprints[task] = (read_json(result).get("items") or {}).get("fingerprint")
        prediction = Path(predictions) / f"{task}.json" if predictions else None
        if prediction is not None and prediction.is_file():
            (staging / "predictions").mkdir(exist_ok=True)
            shutil.copy2(prediction, staging / "predictions" / prediction.name)
    record = {
        "promoted_at": stamp,
        "checkpoint": str(checkpoint.resolve()),
        "metrics": str(metrics.resolve()),
        "checkpoint_digest": digest,
        "data_version": data_version,
        "fingerprints": fingerprints,
        "decision": decision,
        "forced": bool(force),  # --force skips the decision and its checks: always recorded
    }
    (staging / "promotion.json").write_text(json.dumps(record, indent=4) + "\n")
    release = releases / release_id
    os.rename(staging, release)
    _point(champion, release)
    if keep is not None:
        prune_releases(champion, keep)
    return release


def recorded_data_version(folder: str | Path = ".") -> str | None:
    """The data version a run in ``folder`` recorded: the run's ``data_version.json`` (Airflow and KFP runs,
    ``momentor pipeline resolve-data``), else the md5 DVC records for ``data/`` in ``data.dvc`` (``dvc repro``),
    else None."""
    import yaml

    from momentor.data.version import dvc_md5

    folder = Path(folder)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return str(json.loads((folder / "data_version.json").read_text())["version"])
    try:
        md5 = dvc_md5(folder / "data.dvc")
    except (OSError, AttributeError, yaml.YAMLError):
        return None
    return f"dvc:{md5}" if md5 else None


def current_release(champion: str | Path) -> str | None:
    """The release folder's name the champion points at (None: no champion)."""
    champion = Path(champion)
    return champion.resolve().name if exists(champion) else None


def _check_binding(decision: dict, checkpoint: Path, metrics: Path, champion: Path) -> None:
    """Refuse a decision about another checkpoint, other metrics, or a champion that has changed since."""
    bound = decision.get("candidate") or {}
    redo = "run momentor gate on this checkpoint and these metrics again, or promote with --force"
    if not bound.get("checkpoint_digest") or not bound.get("metrics_digest"):
        raise EvalInputError(f"the decision names no checkpoint and metrics it judged (no digests); {redo}")
    if bound["checkpoint_digest"] != checkpoint_digest(checkpoint):
        raise EvalInputError(f"the decision judged another checkpoint than {checkpoint} (digest differs); {redo}")
    if bound["metrics_digest"] != file_sha256(metrics):
        raise EvalInputError(f"the decision judged other metrics than {metrics} (digest differs); {redo}")
    if decision.get("champion_release", current_release(champion)) != current_release(champion):
        raise EvalInputError(
            f"the champion changed since the gate judged this model ({decision.get('champion_release')} -> "
            f"{current_release(champion)}); {redo}"
        )


def checkpoint_digest(checkpoint: Path) -> str:
    """sha256 over a checkpoint folder's files (relative names and bytes): the same model, the same digest."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(checkpoint).rglob("*") if p.is_file()):
        digest.update(path.relative_to(checkpoint).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _promotion(champion: Path) -> dict:
    path = champion / "promotion.json"
    return read_json(path) if path.is_file() else {}


def failed_checks(decision: dict) -> list[str]:
    """``task.metric check`` of every failed check of a decision."""
    return [f"{c.get('task', '')}.{c['metric']} {c['check']}".lstrip(".")
            for c in decision.get("reasons", []) if not c["passed"]]


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


# ---------------------------------------------------------------------------------------------------------
# re-scoring on the candidate's split


def rescore(
    champion: str | Path,
    tasks: tuple[str, ...],
    fingerprint_of: Callable[[str], str],
    evaluate: Callable[[str, Path], dict],
    predict: Callable[[Path, Path], None],
    out: str | Path,
) -> dict:
    """The champion's results on the candidate's split, in ``out/<task>.json``; returns the marker.

    Args:
        champion: the champion folder (absent: no champion yet, the marker says so and nothing else is written).
        tasks: the tasks the candidate was evaluated on.
        fingerprint_of: task -> the fingerprint of the split's ground truth.
        evaluate: (task, predictions file) -> the task result on the split.
        predict: (checkpoint folder, predictions folder, tasks) -> writes ``<task>.json`` predictions of the
            split for ``tasks``: those whose stored predictions cannot be reused (the ground truth changed, or
            the champion was promoted before the task was evaluated); the others are reused.
        out: folder of the results, the marker ``champion.json`` and ``predictions/``.
    """
    champion, out = Path(champion), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        (out / f"{task}.json").unlink(missing_ok=True)  # never leave an older champion's result behind
    if not exists(champion):
        marker = {"champion": None, "note": f"no champion at {champion} yet: nothing to compare against"}
        write_json(out / MARKER, marker)
        return marker
    predictions = out / "predictions"
    current = {task: fingerprint_of(task) for task in tasks}
    stored = {task: _stored_fingerprint(champion, task) for task in tasks}
    reused = [t for t in tasks if current[t] == stored[t] and (champion / "predictions" / f"{t}.json").is_file()]
    redo = [t for t in tasks if t not in reused]
    if predictions.exists():
        shutil.rmtree(predictions)
    predictions.mkdir(parents=True)
    for task in reused:
        shutil.copy2(champion / "predictions" / f"{task}.json", predictions / f"{task}.json")
    source = "reused: the split's ground truth is unchanged since its promotion"
    if redo:
        changed = [t for t in redo if stored[t] is not None and stored[t] != current[t]]
        log.info("the champion predicts the split again for %s (%s)", ", ".join(redo),
                 f"ground truth changed: {', '.join(changed)}" if changed else "no stored predictions")
        predict(model_folder(champion), predictions, tuple(redo))
        source = "predicted with the champion's checkpoint: " + (
            "the split's ground truth changed since its promotion" if changed else "no stored predictions"
        ) + (f" ({', '.join(redo)}; reused for {', '.join(reused)})" if reused else "")
    for task in tasks:
        write_json(out / f"{task}.json", evaluate(task, predictions / f"{task}.json"))
    marker = {
        "champion": str(champion),
        "release": champion.resolve().name,
        "predictions": source,
        "fingerprints": current,
    }
    write_json(out / MARKER, marker)
    return marker


def _stored_fingerprint(champion: Path, task: str) -> str | None:
    path = champion / "results" / f"{task}.json"
    return (read_json(path).get("items") or {}).get("fingerprint") if path.is_file() else None


def read_rescored(folder: str | Path | None, champion: str | Path) -> tuple[dict | None, str]:
    """(task -> result, or None when there is no champion; a note) from :func:`rescore`'s folder.

    A champion that exists but was not re-scored (no folder given) raises: comparing a candidate with
    numbers from another split is what this module exists to avoid.
    """
    if folder is None or not (Path(folder) / MARKER).is_file():
        if exists(champion):
            raise EvalInputError(
                f"the champion {champion} exists but was not re-scored on this split; run momentor "
                "rescore-champion ... --out DIR and pass --champion-results DIR"
            )
        return None, f"no champion at {champion} yet"
    folder = Path(folder)
    marker = read_json(folder / MARKER)
    if marker.get("champion") is None:
        return None, marker.get("note", "no champion yet")
    results = {p.stem: read_json(p) for p in sorted(folder.glob("*.json")) if p.name != MARKER}
    return results, f"champion {marker.get('release')}, {marker.get('predictions')}"
