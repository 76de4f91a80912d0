"""``momentor config``: print the resolved config (params.yaml + overrides), validated."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="print the resolved, validated config as YAML")
    p.set_defaults(handler=show)


def show(args: argparse.Namespace) -> int:
    from momentor import config as config_lib
    from momentor.cli import load_config

    print(config_lib.dump(load_config(args)), end="")
    return 0
