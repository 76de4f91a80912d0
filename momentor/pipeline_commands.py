"""``momentor pipeline compile|submit|run-local|data-version``: the Kubeflow pipeline of ``components/``.

    momentor pipeline compile [--out FILE]
    momentor pipeline submit --endpoint URL [--experiment NAME] [-S k=v ...] [--arg NAME=VALUE ...] [--wait]
    momentor pipeline run-local [--pipeline-root DIR] [-S k=v ...] [--arg NAME=VALUE ...]
    momentor pipeline data-version [--raw FOLDER]
    momentor pipeline resolve-data --raw FOLDER|sample --workspace DIR --run-dir DIR [--expect-version V]

``submit`` and ``run-local`` pass the resolved config (``--params`` file plus ``-S``) to the pipeline as
its ``overrides`` parameter, as the minimal override list against the package defaults; ``--arg`` sets any
other pipeline parameter (``raw_data_uri``, ``preset``, ``gate_floors``, ``workspace_pvc``, ``image``,
``gpus``, ...; values are YAML). ``run-local`` defaults ``raw_data_uri`` to ``sample`` and the workspace
to ``paths.work``. ``--out FILE`` writes the run summary JSON (what the Airflow DAG reads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from momentor.pipeline_runs import PACKAGE_ENV, PACKAGE_FILE, PIPELINE_FILE, PIPELINE_NAME


def _arguments(args: argparse.Namespace, cfg) -> dict:
    """The pipeline arguments of a submit or local run: overrides of the resolved config plus ``--arg``."""
    import yaml

    from momentor import pipeline_runs
    from momentor.config import ConfigError

    arguments: dict = {"overrides": pipeline_runs.config_overrides(cfg)}
    image = getattr(args, "image", None) or os.environ.get("MOMENTOR_IMAGE")
    if image:
        arguments["image"] = image
    for text in args.arg:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--arg {text!r} is not of the form NAME=VALUE (a pipeline parameter)")
        arguments[name.strip()] = yaml.safe_load(value) if value.strip() else ""
    return arguments


def _write_summary(summary: dict, out: str | None) -> None:
    text = json.dumps(summary, indent=2, default=str)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)


def compile_(args: argparse.Namespace) -> int:
    from momentor import pipeline_runs

    from momentor import step_graphs

    out = pipeline_runs.compile_pipeline(args.out, args.pipeline_file)
    print(f"compiled {args.pipeline_file} -> {out}")
    from momentor.cli import load_config

    root = Path(args.pipeline_file).resolve().parents[1]
    shards = load_config(args).pipeline.shards  # DVC has no loop over a number: its stages are written out
    for path in step_graphs.write_all(root, shards):
        print(f"wrote {path} from momentor/steps.py" + (f" ({shards} shards)" if shards > 1 else ""))
    return 0


def submit(args: argparse.Namespace) -> int:
    from momentor import pipeline_runs
    from momentor.cli import load_config

    cfg = load_config(args)
    endpoint = args.endpoint or cfg.pipeline.kfp_endpoint
    if not endpoint:
        print("momentor pipeline submit: no endpoint; pass --endpoint URL or set pipeline.kfp_endpoint",
              file=sys.stderr)
        return 2
    summary = pipeline_runs.submit(endpoint, _arguments(args, cfg), args.package, args.experiment, args.run_name,
                                   args.wait, args.timeout)
    _write_summary(summary, args.out)
    return 0 if not args.wait or summary["state"] == "SUCCEEDED" else 1


def run_local(args: argparse.Namespace) -> int:
    from momentor import pipeline_runs
    from momentor.cli import load_config

    cfg = load_config(args)
    arguments = _arguments(args, cfg)
    # a local run's workspace is the project's work folder: its champion is the one `dvc repro` uses
    work = Path(cfg.paths.work).resolve()
    arguments.setdefault("workspace", str(work))
    arguments.setdefault("champion_dir", str(work / cfg.gate.champion))
    arguments.setdefault("raw_data_uri", "sample")
    root = args.pipeline_root or str(Path(cfg.paths.work) / "kfp-local")
    summary = pipeline_runs.run_local(arguments, root, args.package)
    _write_summary(summary, args.out)
    return 0


def data_version(args: argparse.Namespace) -> int:
    from momentor import pipeline_runs
    from momentor.cli import load_config

    from momentor.data.version import write_listing

    cfg = load_config(args)
    found = pipeline_runs.data_version(args.raw or None, cfg)
    if args.listing:
        write_listing(found, args.listing)
    _write_summary({k: v for k, v in found.items() if k != "listing"}, args.out)
    return 0


def resolve_data(args: argparse.Namespace) -> int:
    from momentor import pipeline_runs

    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    found = pipeline_runs.resolve_raw_data(args.raw, args.params, args.workspace, run_dir / "data_listing.json",
                                           args.overrides)
    if args.expect_version and found["version"] != args.expect_version:
        print(f"momentor pipeline resolve-data: the data at {found['raw']} changed since it was announced "
              f"(announced {args.expect_version}, now {found['version']}); announce it again (momentor_ingest) "
              "or trigger the run with its raw_data_uri", file=sys.stderr)
        return 1
    (run_dir / "data_version.json").write_text(json.dumps(found, indent=1) + "\n")
    _write_summary({**found, "run_dir": str(run_dir)}, args.out)
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("pipeline", help="compile, submit or locally run the Kubeflow pipeline")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    run_options = argparse.ArgumentParser(add_help=False)
    run_options.add_argument("--package", help=f"compiled pipeline YAML (default: ${PACKAGE_ENV}, else {PACKAGE_FILE})")
    run_options.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                             help="set a pipeline parameter, e.g. --arg raw_data_uri=/data (repeatable)")
    run_options.add_argument("--out", help="also write the run summary JSON here")

    a = actions.add_parser("compile", parents=[common], help="compile components/pipeline.py to the YAML package")
    a.add_argument("--out", default=PACKAGE_FILE, help="YAML to write")
    a.add_argument("--pipeline-file", default=PIPELINE_FILE, help="the pipeline definition")
    a.set_defaults(handler=compile_)

    a = actions.add_parser("submit", parents=[common, run_options], help="start a run on a KFP endpoint")
    a.add_argument("--endpoint", help="KFP API URL (default: pipeline.kfp_endpoint)")
    a.add_argument("--experiment", default=PIPELINE_NAME, help="KFP experiment (created when missing)")
    a.add_argument("--run-name", help="run name (default: package name and time)")
    a.add_argument("--image", help="momentor image of every task (default: $MOMENTOR_IMAGE, else the pipeline's)")
    a.add_argument("--wait", action="store_true", help="wait for the run to finish; exit 1 unless it succeeded")
    a.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait (default: 6 h)")
    a.set_defaults(handler=submit)

    a = actions.add_parser("run-local", parents=[common, run_options],
                           help="run the whole pipeline here (KFP SubprocessRunner)")
    a.add_argument("--pipeline-root", help="artifacts folder (default: <paths.work>/kfp-local)")
    a.set_defaults(handler=run_local)

    a = actions.add_parser("data-version", parents=[common], help="print the version of the raw data (JSON)")
    a.add_argument("--raw", help="raw data folder (default: none, the sample corpus the pipeline builds)")
    a.add_argument("--out", help="also write it here")
    a.add_argument("--listing", help="write what the version covers (relative path -> md5) to this JSON file")
    a.set_defaults(handler=data_version)

    a = actions.add_parser("resolve-data", parents=[common],
                           help="where a run reads its data and its version, recorded in the run folder")
    a.add_argument("--raw", required=True, help="raw data folder, or 'sample' for the embedded sample corpus")
    a.add_argument("--workspace", required=True, help="the durable workspace (sample corpus, state cache)")
    a.add_argument("--run-dir", required=True, help="the run's folder: data_version.json, data_listing.json")
    a.add_argument("--expect-version", help="fail unless the data still has this version (the announced one)")
    a.add_argument("--out", help="also write the summary JSON here")
    a.set_defaults(handler=resolve_data)
