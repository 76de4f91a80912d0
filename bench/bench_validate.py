"""Validation throughput at Moment-10M scale: 10.4M instruction rows over 64.9k videos.

Generates a manifest (``videos.parquet`` + ``instructions.parquet``; conversations like the engine's, with
2-6 ``<t=...>`` timestamps each, plus one of every kind of bad row so the failure path is measured too),
then times, in the same run:

- ``momentor validate --suite instructions`` as the pipeline runs it (Great Expectations 1.x Checkpoint over
  the table with its derived columns, Data Docs included), end to end from the Parquet files;
- a baseline: the same rules as plain pandas boolean masks on the same derived table (built the same way:
  Parquet read, timestamp parsing, RE2 conversation checks), no GX. The ratio is GX's own cost.

Prints rows/s, seconds and the GX/baseline ratio; writes ``bench/results/validate.json``. Target: the GX
run under 60 s on this machine (2 shared cores).

    .venv/bin/python bench/bench_validate.py            # 10.4M rows
    .venv/bin/python bench/bench_validate.py --rows 1e6 # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from momentor import config
from momentor.data.manifest import SCHEMAS, SPLITS, TASKS
from momentor.validate import tables as vt
from momentor.validate.run import validate
from momentor.validate.suites import FLOAT_MAX

VIDEOS = 64_900
ROWS = 10_400_000
BAD_ROWS = 7  # one per kind of bad row


def _num(values: np.ndarray) -> pa.Array:
    """Seconds as the manifest writes them (at most 2 decimals, no trailing zeros)."""
    return pa.array(np.round(values, 2)).cast(pa.string())  # Arrow prints 12.0 as "12", 12.5 as "12.5"


def generate(folder: Path, rows: int, seed: int = 0) -> None:
    """videos.parquet and instructions.parquet of the manifest contract, written in 1M-row groups."""
    rng = np.random.default_rng(seed)
    durations = rng.uniform(60, 900, VIDEOS).round(3)  # Moment-10M: 403 s mean
    vids = pc.binary_join_element_wise("yt_", pa.array(np.arange(VIDEOS)).cast(pa.string()), "")
    videos = pa.table(
        {
            "video_id": vids,
            "path": [""] * VIDEOS,
            "duration": durations,
            "fps": np.zeros(VIDEOS),
            "source": ["moment10m"] * VIDEOS,
            "split": ["train"] * VIDEOS,
            "sha256": [""] * VIDEOS,
        },
        schema=SCHEMAS["videos"],
    )
    pq.write_table(videos, folder / "videos.parquet")
    writer = pq.ParquetWriter(folder / "instructions.parquet", SCHEMAS["instructions"])
    block = 1_000_000
    for first in range(0, rows, block):
        n = min(block, rows - first)
        video = rng.integers(0, VIDEOS, n)
        dur = durations[video]
        s = rng.uniform(0, 0.6, n) * dur
        e = np.minimum(s + rng.uniform(2, 60, n), dur)
        s2 = np.minimum(e + rng.uniform(0, 30, n), dur - 1)
        e2 = np.minimum(s2 + rng.uniform(1, 40, n), dur)
        human = pc.binary_join_element_wise(
            '[{"from": "human", "value": "<video>\\nWhat happens between <t=',
            _num(s),
            "> and <t=",
            _num(e),
            '>, and how does it relate to what follows?"}, {"from": "gpt", "value": "From <t=',
            _num(s),
            "> ~ <t=",
            _num(e),
            "> a person walks a dog along the road; then <t=",
            _num(s2),
            "> ~ <t=",
            _num(e2),
            '> they stop to talk with a neighbour near the gate."}]',
            "",
        )
        ids = pc.binary_join_element_wise(
            "m10m/", pa.array(np.arange(first, first + n)).cast(pa.string()), ""
        )
        writer.write_table(
            pa.table(
                {
                    "instruction_id": ids,
                    "video_id": pc.take(vids, pa.array(video)),
                    "task": pc.take(pa.array(TASKS), pa.array(rng.integers(0, len(TASKS), n))),
                    "conversations": human,
                    "score": rng.uniform(0.2, 1.0, n),
                    "split": pc.take(pa.array(SPLITS), pa.array(rng.integers(0, 3, n))),
                },
                schema=SCHEMAS["instructions"],
            )
        )
    good = '[{"from": "human", "value": "<video>\\nWhen? <t=1>"}, {"from": "gpt", "value": "At <t=2>."}]'
    bad = [  # (id, video, task, conversations, score): one of each kind the suite must catch
        ("m10m/0", "yt_0", "gesm", good, 0.5),  # duplicate id
        ("bad/task", "yt_1", "captioning", good, 0.5),
        ("bad/video", "yt_missing", "gesm", good, 0.5),
        (
            "bad/empty",
            "yt_2",
            "gesm",
            '[{"from": "human", "value": "<video>"}, {"from": "gpt", "value": " "}]',
            0.5,
        ),
        ("bad/nan", "yt_3", "gesm", good, float("nan")),
        ("bad/past_end", "yt_4", "gesm", good.replace("<t=2>", f"<t={durations[4] + 5:.2f}>"), 0.5),
        ("bad/no_video", "yt_5", "gesm", good.replace("<video>\\n", ""), 0.5),
    ]
    writer.write_table(
        pa.table(
            {
                k: [b[i] for b in bad]
                for i, k in enumerate(["instruction_id", "video_id", "task", "conversations", "score"])
            }
            | {"split": ["train"] * len(bad)},
            schema=SCHEMAS["instructions"],
        )
    )
    writer.close()


def baseline(folder: Path, policy: str, tolerance: float) -> dict[str, int]:
    """The same rules without GX: the same derived table, then one boolean mask per rule (bad-row counts)."""
    videos = pq.read_table(folder / "videos.parquet")
    frame = vt.instructions_table(folder, videos).frame
    bad = {
        "id_not_null": int(frame["instruction_id_code"].isna().sum()),
        "id_unique": int(frame["instruction_id_code"].duplicated(keep=False).sum()),
        "task": int((~frame["task"].isin(TASKS)).sum()),
        "split": int((~frame["split"].isin(SPLITS)).sum()),
        "conversations_structure": int((~frame["conversation_well_formed"]).sum()),
        "video_first": int((~frame["video_in_first_turn"]).sum()),
        "score_not_null": int(frame["score"].isna().sum()),
        "score_finite": int((frame["score"].abs() > FLOAT_MAX).sum()),
        "unparsed": int((frame["unparsed_timestamps"] != 0).sum()),
        "video_present": int(frame["video_duration"].isna().sum()),
        "times_non_negative": int((frame["min_timestamp_s"] < 0).sum()),
    }
    if policy in ("clip", "drop"):
        bad["past_end"] = int((frame["end_past_video_s"] > tolerance).sum())
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=ROWS, help="instruction rows (default 10.4M)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "validate.json"))
    args = parser.parse_args()
    rows = int(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench_validate_") as tmp:
        work = Path(tmp)
        manifest = work / "manifest"
        manifest.mkdir()
        started = time.perf_counter()
        generate(manifest, rows)
        generated = time.perf_counter() - started
        cfg = config.load(ROOT / "params.yaml", [f"paths.work={work}"])
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        run = validate(cfg, groups=["instructions"])
        gx_seconds, gx_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        base = baseline(manifest, cfg.data.past_end_policy, cfg.validate.time_tolerance_s)
        base_seconds, base_cpu = time.perf_counter() - started, time.process_time() - cpu
        load_after = os.getloadavg()[0]
    total = rows + BAD_ROWS
    (table,) = run.results
    failed = sorted(o.description for o in table.outcomes if not o.success)
    result = {
        "rows": total,
        "gx_seconds": round(gx_seconds, 2),
        "gx_rows_per_s": round(total / gx_seconds),
        "baseline_seconds": round(base_seconds, 2),
        "baseline_rows_per_s": round(total / base_seconds),
        "gx_over_baseline": round(gx_seconds / base_seconds, 2),
        "gx_cpu_seconds": round(gx_cpu, 2),
        "baseline_cpu_seconds": round(base_cpu, 2),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],  # 2 cores shared with other work
        "target_seconds": 60,
        "meets_target": gx_seconds < 60,
        "expectations": len(table.outcomes),
        "failed_expectations": failed,
        "baseline_bad_rows": base,
        "generate_seconds": round(generated, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(run.summary)
    print(
        f"\nvalidate instructions: {total:,} rows in {gx_seconds:.1f} s = {total / gx_seconds:,.0f} rows/s "
        f"(GX, end to end incl. Parquet read, derived columns, Data Docs)\n"
        f"baseline (same rules, pandas/pyarrow, no GX): {base_seconds:.1f} s = "
        f"{total / base_seconds:,.0f} rows/s\n"
        f"ratio GX / baseline: {gx_seconds / base_seconds:.2f}x   "
        f"target < 60 s: {'met' if gx_seconds < 60 else 'MISSED'}\n"
        f"CPU time: GX {gx_cpu:.1f} s, baseline {base_cpu:.1f} s; "
        f"load average {load_before:.1f} -> {load_after:.1f} "
        f"on {os.cpu_count()} cores (wall times stretch when other work shares them)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
