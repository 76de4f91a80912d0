"""``momentor engine``: the Moment-10M data engine over every manifest video that has a file.

Per video: decode frames at ``engine.sample_fps`` (:func:`momentor.data.decode.sample_frames`), find the
structure (:mod:`momentor.data.engine.analysis`) with the frozen-encoder features of ``momentor features``,
caption the events, write the instructions of ``engine.tasks`` (and a GESM sequence), filter them by score.

Writes into the manifest: ``segments.parquet`` (the events, ``origin = "engine"``, replacing the engine's
earlier rows and keeping the annotated ones) and ``instructions.parquet`` (ids ``engine/<video>/<task>/<k>``,
replacing the engine's earlier rows and keeping those read from sources). Writes into ``<paths.work>/engine``:
``tracks.parquet`` (instances, the manifest's tracks schema), ``instance_event.parquet`` (the matrix, one row
per instance and event with its presence) and ``report.json`` (boundary precision/recall/F1 against the
annotated boundaries at ``engine.boundary_tolerance_s``, before and after merging; instruction counts).
Videos that fail to decode or have no features go to ``quarantine.jsonl`` (stage ``engine``); the run goes on.
Sharded (``shard=(K, N)``): each shard mines its videos into a part, ``merge_engine`` writes all of the
above from the parts, byte for byte as one process does (:mod:`momentor.data.engine.results`).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from momentor import atomic
from momentor.config import Config
from momentor.data.decode import sample_frames
from momentor.data.engine.analysis import (
    analyse_video,
    engine_frame_count,
    instance_label_match,
    make_detector,
    oracle_for,
)
from momentor.data.engine.boundaries import MatchCounts, match_boundaries
from momentor.data.engine.captions import caption_events
from momentor.data import shards as sharding
from momentor.data.engine.filtering import Rewriter, instruction_rows
from momentor.data.engine.ground_truth import add_ground_truth
from momentor.data.engine.instructions import (
    VideoStructure,
    generate_instructions,
    grounding_queries,
)
from momentor.data.engine.results import Tally, read_parts, tables_from_rows, write_part
from momentor.data.manifest import QUARANTINE_FILE, SCHEMAS, read_table, table_path
from momentor.data.quarantine import BadInput, Quarantine

log = logging.getLogger(__name__)
ENGINE_ID_PREFIX = "engine/"


def annotated_boundaries(segments: pd.DataFrame, duration: float, eps: float = 1e-6) -> np.ndarray:
    """Inner boundaries of a video's annotated segments: every start or end strictly inside (0, duration)."""
    edges = np.concatenate([segments["start"].to_numpy(float), segments["end"].to_numpy(float)])
    return np.unique(np.round(edges[(edges > eps) & (edges < duration - eps)], 6))


def _feature_file(folder: Path, video_id: str) -> Path:
    path = folder / f"{video_id}.safetensors"
    if not path.exists():
        raise BadInput(f"no frame features at {path}", "run `momentor features` before `momentor engine`")
    return path


def run_engine(
    cfg: Config,
    manifest_dir: str | Path | None = None,
    rewriter: Rewriter | None = None,
    out_dir: str | Path | None = None,
    shard: tuple[int, int] | None = None,
) -> dict:
    """Run the engine over the manifest; returns the report (also written to ``<paths.work>/engine``).

    With ``out_dir`` the input manifest is left as it is and the enriched manifest (the input's tables with
    the engine's segments and instructions swapped in) is written there: a pipeline step then owns its output
    folder (DVC forbids two stages writing one folder). Without it the manifest is updated in place.
    With ``shard=(K, N)`` only shard K's videos are mined, into its part
    (:mod:`momentor.data.engine.results`); :func:`merge_engine` writes the outputs from the N parts.
    """
    started = time.perf_counter()
    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    videos = read_table(manifest_dir, "videos")
    if shard is not None:
        part = sharding.start_part(sharding.part_dir(cfg.paths.work, "engine", *shard))
        quarantine = Quarantine(part / QUARANTINE_FILE, "engine")
        tables, tally = _mine(cfg, manifest_dir, sharding.select(videos, *shard), quarantine, rewriter)
        write_part(part, tables, tally)
        sharding.mark_done(part)
        return _report(cfg, sharding.select(videos, *shard), tables, tally, len(quarantine), started)
    if out_dir is not None and Path(out_dir).resolve() != manifest_dir.resolve():
        manifest_dir = _copy_manifest(manifest_dir, Path(out_dir))
    quarantine = Quarantine(manifest_dir / QUARANTINE_FILE, "engine")
    tables, tally = _mine(cfg, manifest_dir, videos, quarantine, rewriter)
    return _write_outputs(cfg, manifest_dir, videos, tables, tally, len(quarantine), started)


def merge_engine(cfg: Config, shards: int, manifest_dir: str | Path | None = None,
                 out_dir: str | Path | None = None) -> dict:
    """The outputs of :func:`run_engine` from the parts of its ``shards`` shards; the report."""
    started = time.perf_counter()
    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    parts = sharding.part_dirs(cfg.paths.work, "engine", shards)
    videos = read_table(manifest_dir, "videos")
    if out_dir is not None and Path(out_dir).resolve() != manifest_dir.resolve():
        manifest_dir = _copy_manifest(manifest_dir, Path(out_dir))
    tables, tally = read_parts(parts, videos["video_id"].tolist())
    quarantined = sharding.merge_quarantine(manifest_dir, "engine", parts, videos)
    return _write_outputs(cfg, manifest_dir, videos, tables, tally, quarantined, started)


def _mine(cfg: Config, manifest_dir: Path, videos: pd.DataFrame, quarantine: Quarantine,
          rewriter: Rewriter | None) -> tuple[dict, Tally]:
    """The engine over ``videos`` (those with a file): its tables and tally."""
    from momentor.data.features import feature_dir, load_features

    ecfg = cfg.engine
    segments = read_table(manifest_dir, "segments")
    annotated = segments[segments["origin"] == "gt"]
    gt_by_video = dict(tuple(annotated.groupby("video_id")))
    tracks_by_video = dict(tuple(read_table(manifest_dir, "tracks").groupby("video_id")))
    queries_by_video = grounding_queries(read_table(manifest_dir, "queries"))
    features_dir = feature_dir(cfg)
    tasks = (["gesm"] if ecfg.gesm else []) + list(ecfg.tasks)

    rows: dict[str, list] = {"segments": [], "instructions": [], "tracks": [], "instance_event": []}
    tally = Tally()
    for video in videos[videos["path"] != ""].itertuples(index=False):
        try:
            features, feature_times = load_features(_feature_file(features_dir, video.video_id))
            frames, times = sample_frames(
                video.path,
                engine_frame_count(video.duration, ecfg.sample_fps),
                ecfg.frame_size,
                cfg.data.seek_gap_s,
            )
        except BadInput as err:
            quarantine.add_error(video.video_id, video.path, err)
            continue
        gt = gt_by_video.get(video.video_id, annotated.iloc[:0])
        video_tracks = tracks_by_video.get(video.video_id, pd.DataFrame(columns=["label", "times", "boxes"]))
        detector = make_detector(ecfg, video_tracks.to_dict("records"), video.fps)
        analysis = analyse_video(
            video.video_id,
            video.duration,
            frames,
            times,
            features.numpy(),
            feature_times.numpy(),
            detector,
            ecfg,
        )
        gt_triples = list(zip(gt["start"], gt["end"], gt["caption"]))
        captions, scores, caption_source = caption_events(
            analysis.matrix, gt_triples, ecfg.caption_source, ecfg.presence_threshold
        )
        structure = VideoStructure(
            video.video_id,
            video.duration,
            video.split,
            analysis.segments,
            captions,
            scores,
            analysis.matrix,
            ecfg.presence_threshold,
            {"detector": ecfg.detector, "captions": caption_source},
            queries_by_video.get(video.video_id, []),
        )
        rows["instructions"] += instruction_rows(
            video.video_id,
            video.split,
            generate_instructions(structure, tasks, cfg.seed),
            ecfg.min_instruction_score,
            tally.filtering,
            rewriter,
        )
        rows["segments"] += _segment_rows(video.video_id, analysis.segments, captions)
        tracks, presences = _instance_rows(video.video_id, analysis)
        rows["tracks"] += tracks
        rows["instance_event"] += presences
        if len(video_tracks):
            oracle = oracle_for(video_tracks.to_dict("records"), video.fps)
            tally.labels += instance_label_match(analysis.instances, oracle, times)
        if len(gt):
            truth = annotated_boundaries(gt, video.duration)
            tally.raw += match_boundaries(analysis.boundaries.times, truth, ecfg.boundary_tolerance_s)
            found = match_boundaries(analysis.boundary_times, truth, ecfg.boundary_tolerance_s)
            tally.merged += found
            tally.per_source[video.source] = tally.per_source.get(video.source, MatchCounts(0, 0, 0)) + found
    return tables_from_rows(rows), tally


def _write_outputs(cfg: Config, manifest_dir: Path, videos: pd.DataFrame, tables: dict, tally: Tally,
                   quarantined: int, started: float) -> dict:
    """The engine's tables into the manifest and ``<paths.work>/engine``, and the report."""
    report_dir = Path(cfg.paths.work) / "engine"
    report_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tracks", "instance_event"):
        with atomic.writing(report_dir / f"{name}.parquet") as tmp:
            pq.write_table(tables[name], tmp)
    _replace_engine_rows(manifest_dir, "segments", "segment_id", tables["segments"])
    _replace_engine_rows(manifest_dir, "instructions", "instruction_id", tables["instructions"])
    derived = add_ground_truth(manifest_dir)  # highlight saliency and frame labels from the annotated events
    report = {**_report(cfg, videos, tables, tally, quarantined, started), "ground_truth": derived}
    atomic.write_json(report_dir / "report.json", report, indent=1)
    return report


def _report(cfg: Config, videos: pd.DataFrame, tables: dict, tally: Tally, quarantined: int,
            started: float) -> dict:
    ecfg = cfg.engine
    return {
        "videos": int((videos["path"] != "").sum()),
        "quarantined": quarantined,
        "engine_segments": tables["segments"].num_rows,
        "instances": tables["tracks"].num_rows,
        "instructions": tables["instructions"].num_rows,
        "boundaries": {
            "tolerance_s": ecfg.boundary_tolerance_s,
            "before_merging": tally.raw.as_dict(),
            "after_merging": tally.merged.as_dict(),
            "after_merging_by_source": {k: v.as_dict() for k, v in sorted(tally.per_source.items())},
        },
        "instance_labels_vs_annotated_tracks": tally.labels.as_dict(),
        "filtering": {"min_score": ecfg.min_instruction_score, **tally.filtering.as_dict()},
        "detector": ecfg.detector,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _segment_rows(video_id: str, segments, captions: list[str]) -> list[dict]:
    """The engine's events of one video as rows of the manifest's segments table."""
    return [{"segment_id": f"{ENGINE_ID_PREFIX}{video_id}/{e}", "video_id": video_id, "start": start, "end": end,
             "caption": caption, "origin": "engine"}
            for e, ((start, end), caption) in enumerate(zip(segments, captions))]


def _instance_rows(video_id: str, analysis) -> tuple[list[dict], list[dict]]:
    """The video's instance tracks, and its Instance-Event matrix as (instance, event, presence) rows."""
    tracks, presences = [], []
    for i, instance in enumerate(analysis.instances):
        tracks.append({"track_id": instance.track_id, "video_id": video_id, "label": instance.label,
                       "times": instance.times, "boxes": [list(b) for b in instance.boxes]})
        for e, (start, end) in enumerate(analysis.segments):
            presences.append({"video_id": video_id, "instance_id": instance.track_id, "label": instance.label,
                              "event": e, "start": start, "end": end,
                              "presence": float(analysis.matrix.presence[i, e])})
    return tracks, presences

def _copy_manifest(source: Path, target: Path) -> Path:
    """Copy a manifest folder to ``target`` atomically (temporary folder, then rename)."""
    if not source.is_dir():
        raise FileNotFoundError(f"manifest folder {source} not found; run `momentor ingest` first")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    return atomic.replace_folder(partial, target)


def _replace_engine_rows(manifest_dir: Path, name: str, id_column: str, rows: pa.Table) -> None:
    """Swap the engine's rows of a manifest table for ``rows``, keeping every other row (all in Arrow)."""
    path = table_path(manifest_dir, name)
    kept = pq.read_table(path, schema=SCHEMAS[name])
    kept = kept.filter(pc.invert(pc.starts_with(kept[id_column], ENGINE_ID_PREFIX)))
    with atomic.writing(path) as partial:  # Arrow all the way: a 10M-row table never goes to pandas
        pq.write_table(pa.concat_tables([kept, rows]), partial)
