"""Run every benchmark and print one table (README: `bash scripts/bench.sh`).

Each ``bench_*.py`` runs in its own process and writes ``bench/results/<name>.json``; this collects their rows
(each a figure with its baseline measured in the same run, and a ratio) into ``bench/results/all.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, format_table  # noqa: E402

HERE = Path(__file__).resolve().parent
# (script, arguments, results file): small enough that the whole command runs in about 10 minutes on 2 cores
BENCHMARKS = [
    ("bench_encoder.py", ["--rounds", "3", "--repeats", "2"], "encoder.json"),
    ("bench_decode.py", [], "decode.json"),
    ("bench_features.py", [], "features.json"),
    ("bench_shards.py", [], "shards.json"),
    ("bench_train.py", ["--steps", "4"], "train.json"),
    ("bench_train_processes.py", [], "train_processes.json"),
    ("bench_validate.py", [], "validate.json"),
    ("bench_eval.py", [], "bench_eval.json"),
    ("bench_pipeline.py", [], "pipeline.json"),
    ("bench_serve.py", [], "serve.json"),
]


def rows_of(name: str, data: dict) -> list[dict]:
    """Rows of one result file (bench_validate writes its own flat layout)."""
    if isinstance(data.get("rows"), list):
        return data["rows"]
    if name == "validate.json":
        return [{"row": f"validate {data['rows'] / 1e6:.1f}M instruction rows (GX)", "value": data["gx_rows_per_s"],
                 "unit": "rows/s", "baseline": "same rules, plain pandas", "baseline_value": data["baseline_rows_per_s"],
                 "ratio": data["gx_rows_per_s"] / data["baseline_rows_per_s"], "peak_rss_mb": data.get("peak_rss_mb", 0.0),
                 "note": f"{data['gx_seconds']:.1f} s (target {data['target_seconds']} s)"}]
    return []


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    everything, failures = [], []
    for script, extra, result in BENCHMARKS:
        started = time.perf_counter()
        print(f"== {script} {' '.join(extra)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / script), *extra])
        if done.returncode != 0:
            failures.append(script)
            continue
        data = json.loads((RESULTS / result).read_text())
        for r in rows_of(result, data):
            everything.append({**r, "benchmark": script})
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    print("\n" + format_table(everything))
    (RESULTS / "all.json").write_text(json.dumps(everything, indent=1))
    if failures:
        print(f"failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
