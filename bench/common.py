"""What every benchmark script shares: timing, peak memory, and one JSON result format.

A benchmark prints its rows and writes ``bench/results/<name>.json``::

    {"name": ..., "rows": [{"row": ..., "value": ..., "unit": ..., "baseline": ..., "baseline_value": ...,
                            "ratio": ..., "peak_rss_mb": ..., "note": ...}], "machine": {...}}

``ratio`` is value / baseline_value measured in the same run (these machines are noisy: ratios travel,
absolute numbers do not). ``bench/run_all.py`` runs every script and prints one table.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB).

    Reads VmHWM: ``ru_maxrss`` survives fork and exec, so a freshly started benchmark process would report its
    parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(name: str, value: float, unit: str, baseline: str | None = None, baseline_value: float | None = None,
        higher_is_better: bool = True, note: str = "", peak_rss: float | None = None) -> dict:
    ratio = None
    if baseline_value:
        ratio = value / baseline_value if higher_is_better else baseline_value / value
    return {
        "row": name, "value": value, "unit": unit, "baseline": baseline, "baseline_value": baseline_value,
        "ratio": ratio, "peak_rss_mb": peak_rss if peak_rss is not None else peak_rss_mb(), "note": note,
    }


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def format_table(rows: list[dict]) -> str:
    lines = [f"{'row':<44} {'value':>12} {'unit':<10} {'baseline':<28} {'x base':>7} {'RSS MB':>8}"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        base = r.get("baseline") or "-"
        lines.append(
            f"{r['row']:<44} {r['value']:>12.4g} {r['unit']:<10} {base:<28} {ratio:>7} {r['peak_rss_mb']:>8.0f}"
        )
    return "\n".join(lines)


def report(name: str, rows: list[dict], extra: dict | None = None) -> Path:
    """Print the rows and write them to bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"name": name, "rows": rows, "machine": machine(), **(extra or {})}, indent=1))
    print(format_table(rows))
    print(f"-> {path}")
    return path
