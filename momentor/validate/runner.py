"""Running the suites with Great Expectations 1.x: ephemeral context, pandas data source, Checkpoints.

Per table: a dataframe asset with a whole-dataframe batch definition, an ExpectationSuite, a
ValidationDefinition, and a Checkpoint whose action updates the Data Docs site in the report folder (the
dataframes differ per table and a Checkpoint run takes one set of batch parameters, hence one Checkpoint
each, all writing to the same site). Results come back as plain :class:`ExpectationOutcome` records for the
terminal summary and the JSON result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from momentor.validate.suites import Rules, expectations_for
from momentor.validate.tables import ValidationTable

SITE = "momentor"
WIDE_BYTES = 256 * 2**20  # a column this large is validated in a batch of its own


@dataclass
class ExpectationOutcome:
    """One expectation's result, reduced to what a person needs to fix the data."""

    table: str
    expectation: str  # GX type, e.g. expect_column_values_to_be_unique
    column: str | None
    description: str
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    examples: list = field(default_factory=list)  # rows (dicts) that break the rule
    observed: object = None  # for table-level expectations: what GX saw
    error: str | None = None  # when the expectation could not run


@dataclass
class TableOutcome:
    table: str
    rows: int
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)


def make_context(docs_dir: Path):
    """An ephemeral GX context with no analytics, no progress bars and one Data Docs site at ``docs_dir``."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),  # GX needs an absolute path
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    from momentor.validate.gx import gx

    return gx.get_context(mode="ephemeral", project_config=config)


def column_batches(
    table: ValidationTable, expectations: list, wide_bytes: int = WIDE_BYTES
) -> list[tuple[str, pd.DataFrame, list]]:
    """Group a table's expectations into batches that hold only the columns they read.

    GX's pandas engine drops null rows with ``df[df[column].notnull()]`` for every column-map metric, which
    copies *every* column of the batch. So a batch carries only the columns its expectations read, and a
    column larger than ``wide_bytes`` (the conversation text of 10.4M instructions is 2 GB) is validated in a
    batch of its own, so that it is copied only for its own expectations. Small tables make one batch.
    """
    frame = table.frame
    sizes = frame.memory_usage(index=False)  # Arrow-backed strings report their real size
    wide = {c for c in frame.columns if sizes[c] > wide_bytes}
    groups: dict[str, tuple[list[str], list]] = {}
    for expectation in expectations:
        kwargs = expectation.configuration.kwargs
        columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        key = "+".join(c for c in columns if c in wide) or "main"
        group_columns, group = groups.setdefault(key, ([], []))
        group_columns.extend(c for c in columns if c not in group_columns)
        group.append(expectation)
    out = []
    for key, (columns, group) in groups.items():
        batch = (
            frame[columns] if table.schema_ok else frame
        )  # unchecked: its only expectation is on its columns
        out.append((table.name if key == "main" else f"{table.name}.{key}", batch, group))
    return out


def validate_tables(
    tables: list[ValidationTable], rules: Rules, docs_dir: Path, examples: int = 3
) -> list[TableOutcome]:
    """Validate every table with its suite (one Checkpoint per column batch); Data Docs go to ``docs_dir``."""
    from momentor.validate.gx import gx

    context = make_context(docs_dir)
    source = context.data_sources.add_pandas("manifest")
    docs = gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE])
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": examples}
    out = []
    for table in tables:
        outcomes = []
        for name, frame, expectations in column_batches(table, expectations_for(table, rules)):
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
            suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
            checkpoint = context.checkpoints.add(
                gx.Checkpoint(
                    name=name,
                    validation_definitions=[definition],
                    actions=[docs],
                    result_format=result_format,
                )
            )
            (run,) = checkpoint.run(batch_parameters={"dataframe": frame}).run_results.values()
            outcomes += [_outcome(table, r, examples) for r in run.results]
        out.append(TableOutcome(table.name, len(table.frame), outcomes))
    return out


def _outcome(table: ValidationTable, result, examples: int) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or (
        f"{kwargs['column_A']}, {kwargs['column_B']}" if "column_A" in kwargs else None
    )
    info = result.result or {}
    error = None
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = str(result.exception_info.get("exception_message"))
    return ExpectationOutcome(
        table=table.name,
        expectation=config.type,
        column=column,
        description=config.description or "",
        success=bool(result.success),
        unexpected_count=info.get("unexpected_count"),
        element_count=info.get("element_count"),
        examples=[] if result.success else _example_rows(table, info, column, examples),
        observed=info.get("observed_value") if not result.success else None,
        error=error,
    )


def _example_rows(table: ValidationTable, info: dict, column: str | None, count: int) -> list[dict]:
    """A few failing rows: the row's id and the checked value(s), by column name.

    GX returns the failing rows' positions in the batch (all batches keep the table's row index) and values.
    """
    positions = [
        i for i in (info.get("partial_unexpected_index_list") or []) if isinstance(i, (int, np.integer))
    ]
    names = column.split(", ") if column else ["value"]
    rows = []
    for k, value in enumerate((info.get("partial_unexpected_list") or [])[:count]):
        at = int(positions[k]) if k < len(positions) else None
        row = {}
        if at is not None and table.id_column in table.frame.columns:
            row[table.id_column] = _plain(table.frame[table.id_column].iloc[at])
        values = list(value) if isinstance(value, (tuple, list)) and len(names) > 1 else [value]
        row.update({name: _plain(v) for name, v in zip(names, values)})
        if at is not None:  # the values a derived column was computed from
            for shown in (c for name in names for c in table.shown_with(name)):
                row.setdefault(shown, _plain(table.frame[shown].iloc[at]))
        rows.append(row)
    return rows


def _plain(value):
    """A JSON-friendly scalar (numpy scalars, NaN) for the summary and the result file."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and len(value) > 120:
        return value[:117] + "..."
    return value
