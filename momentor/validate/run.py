"""``momentor validate``: the manifest, instructions and frame features, checked by Great Expectations.

Reads ``<paths.work>/manifest`` and the feature folder of the configured encoder; writes only its report
folder ``<paths.work>/validate`` (cleared first, so nothing stale remains): Data Docs, the summary, and
``result.json`` (passed) or ``failures.json`` (failed). See :mod:`momentor.validate.suites` for the rules.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from momentor.config import Config
from momentor.data.manifest import SCHEMAS
from momentor.validate import tables as vt
from momentor.validate.report import summary_text, write_report
from momentor.validate.runner import TableOutcome, validate_tables
from momentor.validate.suites import GROUPS, Rules

log = logging.getLogger(__name__)
REPORT_FILES = ("summary.txt", "result.json", "failures.json")


@dataclass
class ValidationRun:
    success: bool
    results: list[TableOutcome]
    summary: str
    report_dir: Path
    seconds: float


def feature_shape(cfg: Config) -> tuple[Path, int | None, int | None]:
    """The feature folder of the configured encoder and the (M, d) of its files (None: unknown here)."""
    from momentor.data.features import encoder_spec, feature_dir, num_frames
    from momentor.model.builders import encoder_dim

    try:
        dim = encoder_dim(encoder_spec(cfg.model))
    except (OSError, ValueError) as err:  # a paper-preset encoder whose config is not on this machine
        log.warning("feature width not checked: %s", err)
        dim = None
    return feature_dir(cfg), num_frames(cfg.model), dim


def build_tables(cfg: Config, manifest: Path, groups: list[str]) -> tuple[list[vt.ValidationTable], Rules]:
    """The tables of the asked groups with their derived columns, and the rules to check them against."""
    videos = vt.read_arrow(manifest, "videos")
    usable = videos if vt.has_contract_columns("videos", videos) else SCHEMAS["videos"].empty_table()
    tables: list[vt.ValidationTable] = []
    rules = Rules(cfg.data.past_end_policy, cfg.validate.time_tolerance_s)
    if "manifest" in groups:
        tables += [vt.videos_table(manifest), vt.segments_table(manifest, usable)]
        tables += vt.queries_tables(manifest, usable)
        tables += [vt.tracks_table(manifest, usable), vt.frame_labels_table(manifest, usable)]
    if "instructions" in groups:
        tables.append(vt.instructions_table(manifest, usable))
    if "features" in groups:
        folder, frames, dim = feature_shape(cfg)
        rules = Rules(rules.past_end_policy, rules.time_tolerance_s, frames, dim)
        tables.append(vt.features_table(folder, usable))
    return tables, rules


def validate(
    cfg: Config,
    manifest_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    groups: list[str] | None = None,
) -> ValidationRun:
    """Validate the asked groups (default ``validate.suites``) and write the report folder."""
    started = time.perf_counter()
    manifest = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    report = Path(report_dir or Path(cfg.paths.work) / "validate")
    groups = list(groups or cfg.validate.suites)
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown validation suite {unknown[0]!r}; use any of {', '.join(GROUPS)}")
    shutil.rmtree(report / "data_docs", ignore_errors=True)
    for name in REPORT_FILES:
        (report / name).unlink(missing_ok=True)
    tables, rules = build_tables(cfg, manifest, groups)
    results = validate_tables(tables, rules, report / "data_docs", cfg.validate.examples)
    summary = summary_text(results, report / "data_docs" / "index.html")
    write_report(
        report, results, summary, rules.past_end_policy, keep_result=not cfg.validate.stop_on_failure
    )
    success = all(t.success for t in results)
    return ValidationRun(success, results, summary, report, round(time.perf_counter() - started, 2))
