"""``momentor config``: print the resolved config (params.yaml + overrides), validated, or its schema."""

from __future__ import annotations

import argparse
import json


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="print the resolved, validated config as YAML")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON schema instead: every key's type, bounds, default and description")
    p.set_defaults(handler=show)


def show(args: argparse.Namespace) -> int:
    from momentor import config as config_lib
    from momentor.cli import load_config

    if args.schema:
        print(json.dumps(config_lib.json_schema(), indent=2))
        return 0
    print(config_lib.dump(load_config(args)), end="")
    return 0
