"""The ``engine`` verb: the Moment-10M data engine over the manifest (``momentor.data.engine.run``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from momentor.data.commands import add_shard_arguments


def register(sub, common) -> None:
    p = sub.add_parser(
        "engine",
        parents=[common],
        help="data engine: event boundaries, instance tracks, instructions (all 8 tasks)",
    )
    p.add_argument("--manifest", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.add_argument(
        "--out", default=None, help="write the enriched manifest here (default: update --manifest in place)"
    )
    add_shard_arguments(p, "engine")
    p.set_defaults(handler=engine)


def engine(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.data.engine.run import merge_engine, run_engine
    from momentor.data.shards import ShardError, parse_shard, part_dir
    from momentor.folder_lock import hold

    cfg = load_config(args)
    try:
        shard = parse_shard(args.shard) if args.shard else None
        # a shard writes its part; otherwise, without --out, the engine updates the manifest in place
        written = (part_dir(cfg.paths.work, "engine", *shard) if shard
                   else args.out or args.manifest or Path(cfg.paths.work) / "manifest")
        with hold(written, "engine"):
            if args.merge:
                report = merge_engine(cfg, args.merge, args.manifest, out_dir=args.out)
            else:
                report = run_engine(cfg, args.manifest, out_dir=args.out, shard=shard)
    except ShardError as err:
        print(f"momentor engine: {err}", file=sys.stderr)
        return 1
    if shard:
        print(f"engine shard {shard[0]}/{shard[1]}: {report['videos']} videos, {report['instructions']} "
              f"instructions, {report['quarantined']} quarantined, {report['seconds']} s -> "
              f"{part_dir(cfg.paths.work, 'engine', *shard)}")
        return 0
    b, kept = report["boundaries"], report["filtering"]
    print(
        f"engine: {report['videos']} videos, {report['engine_segments']} events, "
        f"{report['instances']} instances, {report['instructions']} instructions kept "
        f"(score >= {kept['min_score']}), {sum(kept['dropped_low_score'].values())} dropped, "
        f"{report['quarantined']} quarantined, {report['seconds']} s"
    )
    merged = b["after_merging"]
    if merged["actual"]:
        print(
            f"  boundaries vs annotated (tolerance {b['tolerance_s']} s): "
            f"precision {merged['precision']:.3f} recall {merged['recall']:.3f} F1 {merged['f1']:.3f} "
            f"({merged['true_positives']}/{merged['actual']}); "
            f"before merging F1 {b['before_merging']['f1']:.3f}"
        )
    print("  kept per task: " + json.dumps(kept["kept"]))
    if report["quarantined"]:
        print(f"  {report['quarantined']} videos quarantined: see quarantine.jsonl (stage engine)")
    return 0
