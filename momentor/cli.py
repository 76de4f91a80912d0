"""The ``momentor`` command line: one entry point, one verb per pipeline step.

Every verb is a thin shell over a function in the package; the DVC stages, KFP components and Airflow tasks
call these verbs (or the functions behind them) and hold no logic of their own. Each concern registers its
own verbs in a ``commands`` module listed in :data:`COMMAND_MODULES`; heavy imports happen inside the
handlers, so ``momentor --help`` is fast.

Common options on every verb: ``--params FILE`` (default ``params.yaml``) and ``-S key.path=value``
(repeatable), the same override form as ``dvc exp run -S``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable

from momentor import config as config_lib
from momentor.folder_lock import Busy

#: Modules that define ``register(subparsers, common)``; each adds its verbs.
COMMAND_MODULES = (
    "momentor.config_commands",
    "momentor.data.commands",
    "momentor.data.engine.commands",
    "momentor.validate.commands",
    "momentor.train.commands",
    "momentor.trainjob_commands",
    "momentor.infer.commands",
    "momentor.eval.commands",
    "momentor.export.commands",
    "momentor.pipeline_commands",
    "momentor.step_commands",
    "momentor.serve.commands",
)


def common_parser() -> argparse.ArgumentParser:
    """Options every verb takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", default="params.yaml", help="config file (default: params.yaml)")
    common.add_argument(
        "-S",
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. -S model.preset=tiny (repeatable)",
    )
    return common


def load_config(args: argparse.Namespace) -> config_lib.Config:
    """The resolved config of a verb's arguments."""
    return config_lib.load(args.params, args.overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="momentor", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    common = common_parser()
    for name in COMMAND_MODULES:
        # a verb module that cannot be imported is a broken install: fail here, never drop its verbs
        importlib.import_module(name).register(sub, common)
    return parser


#: top-level module -> the extra of pyproject.toml that installs it (each orchestrator's SDK is optional)
EXTRAS = {"kfp": "kfp", "airflow": "airflow", "dvc": "dvc"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    handler: Callable[[argparse.Namespace], int | None] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    started = time.perf_counter()
    try:
        return int(handler(args) or 0)
    except config_lib.ConfigError as err:
        print(f"momentor {args.verb}: config error: {err}", file=sys.stderr)
        return 2
    except Busy as err:
        print(f"momentor {args.verb}: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"momentor {args.verb}: needs {err.name}, which this installation lacks; install the {extra} extra: "
              f"pip install 'momentor[{extra}]'", file=sys.stderr)
        return 2
    finally:
        _record_timing(args.verb, argv, time.perf_counter() - started)


def _record_timing(verb: str, argv: list[str] | None, seconds: float) -> None:
    """Append the verb's own wall time to ``$MOMENTOR_TIMINGS`` (the pipeline benchmark reads it)."""
    path = os.environ.get("MOMENTOR_TIMINGS")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"verb": verb, "argv": sys.argv[1:] if argv is None else argv,
                                  "seconds": seconds}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
