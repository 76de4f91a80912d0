"""What a validation run leaves behind: a one-screen terminal summary and small JSON files.

In the report folder (``<paths.work>/validate``), and nowhere else:

- ``data_docs/index.html``: the GX Data Docs site (every expectation of every table, with failing values);
- ``summary.txt``: the terminal summary;
- ``result.json`` when the run passed (or when ``validate.stop_on_failure`` is off): counts per table,
  no timings, so that DVC sees the same file for the same data;
- ``failures.json`` when it failed: every failed expectation with example rows.
"""

from __future__ import annotations

import json
from pathlib import Path

from momentor.validate.runner import ExpectationOutcome, TableOutcome

MAX_FAILURES_SHOWN = 12  # the summary fits one screen; failures.json and Data Docs hold the rest


def _line(outcome: ExpectationOutcome) -> str:
    target = f"({outcome.column})" if outcome.column else ""
    head = f"    FAIL {outcome.expectation}{target}: {outcome.description}"
    if outcome.error:
        return f"{head}\n         could not run: {outcome.error}"
    if outcome.unexpected_count is not None:
        head += f"  [{outcome.unexpected_count} of {outcome.element_count} rows]"
    elif outcome.observed is not None:
        head += f"  [observed: {_short(outcome.observed)}]"
    lines = [head]
    if outcome.examples:
        lines.append("         e.g. " + "; ".join(_short(row) for row in outcome.examples))
    return "\n".join(lines)


def _short(value, limit: int = 150) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summary_text(results: list[TableOutcome], docs_index: Path) -> str:
    """The one-screen summary: a verdict line, then every failing expectation (up to a limit) by table."""
    failed = [o for t in results for o in t.outcomes if not o.success]
    total = sum(len(t.outcomes) for t in results)
    rows = ", ".join(f"{t.table} {t.rows}" for t in results)
    if not failed:
        head = f"validation passed: {total} expectations on {len(results)} tables ({rows})"
        return f"{head}\n  Data Docs: {docs_index}"
    lines = [
        (
            f"validation FAILED: {len(failed)} of {total} expectations failed "
            f"in {sum(not t.success for t in results)} of {len(results)} tables"
        ),
    ]
    shown = 0
    for table in results:
        bad = [o for o in table.outcomes if not o.success]
        if not bad or shown >= MAX_FAILURES_SHOWN:
            continue
        lines.append(f"  {table.table} ({table.rows} rows)")
        for outcome in bad[: MAX_FAILURES_SHOWN - shown]:
            lines.append(_line(outcome))
            shown += 1
    if len(failed) > shown:
        lines.append(f"  ... and {len(failed) - shown} more failed expectations (failures.json)")
    lines.append(f"  Data Docs: {docs_index}")
    lines.append("  Fix the data (or the step that wrote it) and run `momentor validate` again.")
    return "\n".join(lines)


def result_record(results: list[TableOutcome], policy: str) -> dict:
    return {
        "success": all(t.success for t in results),
        "past_end_policy": policy,
        "tables": {
            t.table: {
                "rows": t.rows,
                "expectations": len(t.outcomes),
                "failed": sum(not o.success for o in t.outcomes),
            }
            for t in results
        },
    }


def failures_record(results: list[TableOutcome]) -> list[dict]:
    return [
        {
            "table": o.table,
            "expectation": o.expectation,
            "column": o.column,
            "description": o.description,
            "unexpected_count": o.unexpected_count,
            "element_count": o.element_count,
            "observed": o.observed,
            "examples": o.examples,
            "error": o.error,
        }
        for t in results
        for o in t.outcomes
        if not o.success
    ]


def write_report(
    folder: Path, results: list[TableOutcome], summary: str, policy: str, keep_result: bool
) -> None:
    """Write summary.txt, and result.json (passed, or asked to keep it) or failures.json (failed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.txt").write_text(summary + "\n")
    record = result_record(results, policy)
    failures = failures_record(results)
    if failures:
        (folder / "failures.json").write_text(json.dumps(failures, indent=1, default=str) + "\n")
    if record["success"] or keep_result:
        (folder / "result.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
