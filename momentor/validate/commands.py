"""The ``validate`` verb: Great Expectations suites over the manifest, instructions and features."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser(
        "validate", parents=[common], help="validate manifest, instructions and features (Great Expectations)"
    )
    p.add_argument("--manifest", default=None, help="manifest folder (default: <paths.work>/manifest)")
    p.add_argument("--report", default=None, help="report folder (default: <paths.work>/validate)")
    p.add_argument(
        "--suite",
        action="append",
        default=None,
        choices=["manifest", "instructions", "features"],
        help="validate only this group (repeatable; default: validate.suites)",
    )
    p.set_defaults(handler=validate)


def validate(args: argparse.Namespace) -> int:
    from momentor.cli import load_config
    from momentor.validate.run import validate as run_validation

    cfg = load_config(args)
    run = run_validation(cfg, args.manifest, args.report, args.suite)
    print(run.summary, file=sys.stdout if run.success else sys.stderr)
    print(f"  ({run.seconds} s; report folder {run.report_dir})")
    if run.success or not cfg.validate.stop_on_failure:
        return 0
    return 1
