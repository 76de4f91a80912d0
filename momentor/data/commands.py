"""Verbs of the data part: ``sample-data``, ``ingest``, ``features``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser(
        "sample-data", parents=[common], help="build the embedded sample corpus (real H.264 videos + GT)"
    )
    p.add_argument("--out", default=None, help="output folder (default: <paths.raw>/sample)")
    p.add_argument(
        "--num-videos", type=int, default=None, help="build only the first N videos (default: data.sample)"
    )
    p.set_defaults(handler=sample_data)

    p = sub.add_parser(
        "ingest", parents=[common], help="read data.sources into the canonical manifest (Parquet)"
    )
    p.add_argument("--out", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.set_defaults(handler=ingest)

    p = sub.add_parser(
        "features", parents=[common], help="frame features of the manifest videos (cached, resumable)"
    )
    p.add_argument("--manifest", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_shard_arguments(p, "features")
    p.set_defaults(handler=features)


def add_shard_arguments(p, verb: str) -> None:
    """``--shard K/N`` and ``--merge N`` of a verb that runs in shards (features, engine)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--shard", default=None, metavar="K/N",
                       help=f"process only shard K (0-based) of N of the manifest's videos, into "
                            f"<paths.work>/shards/{verb}/K-of-N; `--merge N` combines the parts")
    group.add_argument("--merge", type=_shard_count, default=None, metavar="N",
                       help="combine the N finished shards' parts into what one process writes")


def _shard_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard count (a whole number >= 1)")
    return int(text)


def sample_data(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.data.sample_corpus import build_sample_corpus

    cfg = load_config(args)
    out = Path(args.out or Path(cfg.paths.raw) / "sample")
    started = time.perf_counter()
    annotation = build_sample_corpus(cfg.data.sample, out, num_videos=args.num_videos)
    videos = annotation["videos"]
    splits = {s: sum(v["split"] == s for v in videos) for s in cfg.data.sample.splits}
    print(
        f"sample corpus: {len(videos)} videos ({', '.join(f'{n} {s}' for s, n in splits.items())}), "
        f"{sum(len(v['events']) for v in videos)} events, {sum(len(v['queries']) for v in videos)} queries, "
        f"{sum(len(v['tracks']) for v in videos)} tracks, {sum(v['duration'] for v in videos):.0f} s of video "
        f"in {time.perf_counter() - started:.1f} s -> {out}"
    )
    return 0


def ingest(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.data.ingest import ingest as run_ingest
    from momentor.folder_lock import hold

    cfg = load_config(args)
    try:
        with hold(args.out or Path(cfg.paths.work) / "manifest", "ingest"):
            summary = run_ingest(cfg, args.out)
    except (FileNotFoundError, ValueError) as err:  # a missing source, or one not in its declared format
        print(f"momentor ingest: {err}\n  check data.sources (format and path of each source) in the params",
              file=sys.stderr)
        return 1
    print(f"manifest: {summary['manifest']}  (past-end policy: {summary['past_end_policy']})")
    for source in summary["sources"]:
        counts = ", ".join(f"{k} {v}" for k, v in source.items() if k not in ("format", "path"))
        print(f"  {source['format']:<21} {counts}")
    print("  tables: " + ", ".join(f"{k} {v}" for k, v in summary["tables"].items()))
    if summary["quarantined"]:
        print(f"  quarantined: {summary['quarantined']} items, see {summary['manifest']}/quarantine.jsonl")
    return 0


def features(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.data.features import extract_features, feature_dir, merge_features
    from momentor.data.shards import ShardError, parse_shard
    from momentor.folder_lock import hold

    cfg = load_config(args)
    try:
        shard = parse_shard(args.shard) if args.shard else None
        with hold(feature_dir(cfg, shard), "features"):
            if args.merge:
                summary = merge_features(cfg, args.merge, args.manifest)
            else:
                summary = extract_features(cfg, args.manifest, progress=not args.no_progress, shard=shard)
    except (FileNotFoundError, ShardError) as err:
        print(f"momentor features: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=1))
    if summary["quarantined"] and not args.shard:
        print(f"{summary['quarantined']} videos quarantined: see the manifest's quarantine.jsonl")
    return 0
