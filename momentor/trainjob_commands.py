"""``momentor trainjob``: one training stage on several nodes, as a Kubeflow Trainer TrainJob made from the
chart's template (:mod:`momentor.trainjob`). The pipeline's training step runs it when ``nodes > 1``.

    momentor trainjob --stage instruct --out /workspace/checkpoints/<key>/instruct --nodes 2 \\
        --manifest DIR --features DIR [--init DIR] --params FILE [--image REF] [--gpus N] \\
        [--template-configmap NAME | --template-file FILE] [--namespace NS] [--poll S] [--timeout S]

Exit 0 when the TrainJob completed and ``<out>/final`` holds the model; 1 with the job's reason when it
failed.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(sub, common) -> None:
    p = sub.add_parser("trainjob", parents=[common],
                       help="train one stage on several nodes as a Kubeflow Trainer TrainJob and wait for it")
    p.add_argument("--stage", required=True, choices=("align", "gesm", "instruct"))
    p.add_argument("--out", required=True, help="the stage's checkpoint folder on the shared workspace")
    p.add_argument("--nodes", type=int, required=True, help="TrainJob numNodes")
    p.add_argument("--manifest", required=True, help="manifest folder (copied to the workspace volume)")
    p.add_argument("--features", required=True, help="features folder (copied to the workspace volume)")
    p.add_argument("--init", default=None, help="start from this model folder (the previous stage's)")
    p.add_argument("--image", default=None, help="the trainer image (default: the template's)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs per node (default: the template's)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--template-configmap", default="momentor-trainjob",
                       help="the chart's TrainJob template ConfigMap (default: momentor-trainjob)")
    where.add_argument("--template-file", default=None, help="a rendered TrainJob YAML instead")
    p.add_argument("--namespace", default=None, help="default: the pod's own, else the kubeconfig context's")
    p.add_argument("--poll", type=float, default=float(os.environ.get("MOMENTOR_TRAINJOB_POLL_SECONDS", 30)),
                   help="seconds between status reads (default: $MOMENTOR_TRAINJOB_POLL_SECONDS or 30)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait at most (default: until the job ends, which its "
                        "activeDeadlineSeconds bounds)")
    p.set_defaults(handler=trainjob)


def trainjob(args: argparse.Namespace) -> int:
    from momentor import trainjob as trainjobs

    try:
        final = trainjobs.run_stage(
            args.stage, args.out, args.nodes, args.params, args.manifest, args.features, init=args.init,
            image=args.image, gpus=args.gpus, template_configmap=args.template_configmap,
            template_file=args.template_file, namespace=args.namespace, overrides=args.overrides,
            poll_s=args.poll, timeout_s=args.timeout, log=lambda line: print(line, flush=True))
    except trainjobs.TrainJobFailed as err:
        print(f"momentor trainjob: {err}", file=sys.stderr)
        return 1
    print(f"{args.stage}: {final}")
    return 0
