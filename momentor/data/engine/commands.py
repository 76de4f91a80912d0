"""The ``engine`` verb: the Moment-10M data engine over the manifest (``momentor.data.engine.run``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


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
    p.set_defaults(handler=engine)


def engine(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.data.engine.run import run_engine

    from momentor.folder_lock import hold

    cfg = load_config(args)
    # without --out the engine updates the manifest in place: that folder is the one written
    with hold(args.out or args.manifest or Path(cfg.paths.work) / "manifest", "engine"):
        report = run_engine(cfg, args.manifest, out_dir=args.out)
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
