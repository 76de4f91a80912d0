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
from momentor.data.engine.filtering import FilterReport, Rewriter, instruction_rows
from momentor.data.engine.instructions import (
    VideoStructure,
    generate_instructions,
    grounding_queries,
)
from momentor.data.manifest import QUARANTINE_FILE, SCHEMAS, read_table, table_path, to_arrow
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
) -> dict:
    """Run the engine over the manifest; returns the report (also written to ``<paths.work>/engine``).

    With ``out_dir`` the input manifest is left as it is and the enriched manifest (the input's tables with
    the engine's segments and instructions swapped in) is written there: a pipeline step then owns its output
    folder (DVC forbids two stages writing one folder). Without it the manifest is updated in place.
    """
    from momentor.data.features import feature_dir, load_features

    ecfg = cfg.engine
    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    if out_dir is not None and Path(out_dir).resolve() != manifest_dir.resolve():
        manifest_dir = _copy_manifest(manifest_dir, Path(out_dir))
    report_dir = Path(cfg.paths.work) / "engine"
    report_dir.mkdir(parents=True, exist_ok=True)
    videos = read_table(manifest_dir, "videos")
    segments = read_table(manifest_dir, "segments")
    annotated = segments[segments["origin"] == "gt"]
    gt_by_video = dict(tuple(annotated.groupby("video_id")))
    tracks_by_video = dict(tuple(read_table(manifest_dir, "tracks").groupby("video_id")))
    queries_by_video = grounding_queries(read_table(manifest_dir, "queries"))
    features_dir = feature_dir(cfg)
    quarantine = Quarantine(manifest_dir / QUARANTINE_FILE, "engine")
    tasks = (["gesm"] if ecfg.gesm else []) + list(ecfg.tasks)

    started = time.perf_counter()
    new_segments, rows, track_rows, matrix_rows = [], [], [], []
    filter_report = FilterReport()
    raw_match = merged_match = label_match = MatchCounts(0, 0, 0)
    per_source: dict[str, MatchCounts] = {}
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
        rows += instruction_rows(
            video.video_id,
            video.split,
            generate_instructions(structure, tasks, cfg.seed),
            ecfg.min_instruction_score,
            filter_report,
            rewriter,
        )
        new_segments += _segment_rows(video.video_id, analysis.segments, captions)
        tracks, presences = _instance_rows(video.video_id, analysis)
        track_rows += tracks
        matrix_rows += presences
        if len(video_tracks):
            oracle = oracle_for(video_tracks.to_dict("records"), video.fps)
            label_match += instance_label_match(analysis.instances, oracle, times)
        if len(gt):
            truth = annotated_boundaries(gt, video.duration)
            raw_match += match_boundaries(analysis.boundaries.times, truth, ecfg.boundary_tolerance_s)
            found = match_boundaries(analysis.boundary_times, truth, ecfg.boundary_tolerance_s)
            merged_match += found
            per_source[video.source] = per_source.get(video.source, MatchCounts(0, 0, 0)) + found

    pq.write_table(to_arrow("tracks", track_rows), report_dir / "tracks.parquet")
    pd.DataFrame(
        matrix_rows, columns=["video_id", "instance_id", "label", "event", "start", "end", "presence"]
    ).to_parquet(report_dir / "instance_event.parquet", index=False)
    _replace_engine_rows(manifest_dir, "segments", "segment_id", new_segments)
    _replace_engine_rows(manifest_dir, "instructions", "instruction_id", rows)
    report = {
        "videos": int((videos["path"] != "").sum()),
        "quarantined": len(quarantine),
        "engine_segments": len(new_segments),
        "instances": len(track_rows),
        "instructions": len(rows),
        "boundaries": {
            "tolerance_s": ecfg.boundary_tolerance_s,
            "before_merging": raw_match.as_dict(),
            "after_merging": merged_match.as_dict(),
            "after_merging_by_source": {k: v.as_dict() for k, v in sorted(per_source.items())},
        },
        "instance_labels_vs_annotated_tracks": label_match.as_dict(),
        "filtering": {"min_score": ecfg.min_instruction_score, **filter_report.as_dict()},
        "detector": ecfg.detector,
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic.write_json(report_dir / "report.json", report, indent=1)
    return report



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


def _replace_engine_rows(manifest_dir: Path, name: str, id_column: str, rows: list[dict]) -> None:
    """Swap the engine's rows of a manifest table for ``rows``, keeping every other row (all in Arrow)."""
    path = table_path(manifest_dir, name)
    kept = pq.read_table(path, schema=SCHEMAS[name])
    kept = kept.filter(pc.invert(pc.starts_with(kept[id_column], ENGINE_ID_PREFIX)))
    with atomic.writing(path) as partial:  # Arrow all the way: a 10M-row table never goes to pandas
        pq.write_table(pa.concat_tables([kept, to_arrow(name, rows)]), partial)
