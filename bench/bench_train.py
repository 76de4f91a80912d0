"""Training throughput: samples/s and achieved FLOP/s against the GEMM peaks measured in the same run.

The training step is the real one (``momentor.train``: the preset's model, ``prepare_model``, the DeepSpeed
engine from the derived config, ``train_step``), on batches shaped like the sample corpus's GESM and
instruction examples (the real tokenizer and template; random frame features, which do not change the cost).

FLOPs of a step (``model`` rows), counted honestly for what must be computed:

    F = 4·P·T  +  4·d·(V+N)·S  +  4·f·d·F_r  +  attention

- ``P`` the LLM's decoder weights (no embedding table, no head), ``T`` the non-padding tokens: 2·P·T forward,
  and 2·P·T backward for the gradient to the layer inputs only (the frozen weights need no weight gradient,
  so not 6·P·T);
- the head ``d·(V+N)`` runs only at the ``S`` supervised positions (forward + input gradient);
- the projection ``f·d`` on ``F_r`` frame rows (forward + weight gradient; its input needs none);
- attention 2·2·l²·d per sequence and layer forward (QKᵀ and AV, full rectangles as SDPA computes them),
  twice that backward.

``torch.utils.flop_counter`` counts the matmuls actually run (padding included) as a cross-check.
Peaks: the best of square bf16 and fp32 GEMMs (2048²) timed before and after the training steps.

    .venv/bin/python bench/bench_train.py                   # cpu preset, the training configuration
    .venv/bin/python bench/bench_train.py --modes fp32 autocast bf16   # precision comparison
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from momentor.train.launch import passive_thread_waits  # noqa: E402

passive_thread_waits()  # before torch is imported (the training verb does the same)
import torch  # noqa: E402

from bench.common import report, row
from momentor import config as config_lib

CAPTIONS = (
    "An orange circle bounces up and down while a green circle rises to the top on a brown background",
    "A man talks on a phone in a car",
    "A red square moves from left to right on a navy background",
    "Cyclists ride along a street past parked cars",
)
# (description, precision settings): fp32 everything | bf16 autocast over an fp32 LLM | what training does
MODES = {
    "fp32": {"autocast": False, "frozen_bf16": False},
    "autocast": {"autocast": True, "frozen_bf16": False},
    "bf16": {"autocast": True, "frozen_bf16": True},
}


def gemm_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """Best FLOP/s of n×n×n matmuls in ``dtype`` over a few repeats."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    best, started = 0.0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t))
    return best


def conversations(kind: str, count: int) -> list[str]:
    out = []
    for i in range(count):
        if kind == "gesm":
            k = 2 + i % 3
            answer = " ".join(
                f"<t={3.1 * e:.1f}> ~ <t={3.1 * (e + 1):.1f}>: {CAPTIONS[(i + e) % 4]}." for e in range(k)
            )
            question = "Localize every event in the video and describe each one."
        else:
            answer = f"{CAPTIONS[i % 4]}."
            question = f"Write a caption for the segment <t={i % 5}.0> ~ <t={i % 5 + 2.4:.1f}>."
        turns = [{"from": "human", "value": f"<video>\n{question}"}, {"from": "gpt", "value": answer}]
        out.append(json.dumps(turns))
    return out


def model_flops(model, batch) -> dict:
    """Analytic FLOPs of one forward+backward over ``batch`` (see the module docstring)."""
    llm = model.llm
    cfg = llm.config
    d, layers = cfg.hidden_size, cfg.num_hidden_layers
    embedding = llm.get_input_embeddings().weight.numel()
    head_tied = llm.get_output_embeddings().weight.data_ptr() == llm.get_input_embeddings().weight.data_ptr()
    head = 0 if head_tied else llm.get_output_embeddings().weight.numel()
    p_decoder = sum(p.numel() for p in llm.parameters()) - embedding - head
    mask = batch.attention_mask.bool()
    tokens = int(mask.sum())
    supervised = int((batch.labels[:, 1:] != -100).sum())
    v_plus_n = model.vocab_size + (model.temporal.n if model.use_temporal_tokens else 0)
    frames = batch.features.shape[0] * batch.features.shape[1]
    lengths = mask.sum(1).double()
    attention = 3 * layers * float((4 * lengths**2 * d).sum())  # forward 2·2·l²·d, backward twice that
    parts = {
        "llm": 4 * p_decoder * tokens,
        "head": 4 * d * v_plus_n * supervised,
        "projection": 4 * model.projection.in_features * d * frames,
        "attention": attention,
    }
    return {
        "total": sum(parts.values()),
        "parts": parts,
        "tokens": tokens,
        "padded_tokens": mask.numel(),
        "supervised": supervised,
        "decoder_params": p_decoder,
    }


def measure(preset: str, mode: str, micro_batch: int, steps: int, kind: str) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from momentor.model.builders import build_model
    from momentor.train import launch
    from momentor.train.engine import build_engine, prepare_model
    from momentor.train.loop import train_step
    from momentor.train.schedule import StagePlan

    settings = MODES[mode]
    cfg = config_lib.from_dict(
        {},
        [
            f"model.preset={preset}",
            f"train.micro_batch_size={micro_batch}",
            f"train.deepspeed.bf16={str(settings['autocast']).lower()}",
        ],
    )
    model = build_model(cfg.model, seed=0, with_encoder=False)
    prepare_model(model, cfg, settings["frozen_bf16"])
    place = launch.process_place()
    launch.init_process_group(place)
    plan = StagePlan("gesm", micro_batch, micro_batch, 1, 1, steps + 3, 1)
    out = Path("/tmp/momentor_bench_train")
    out.mkdir(exist_ok=True)
    engine = build_engine(model, cfg, "gesm", plan, place, settings["autocast"], out)
    g = torch.Generator().manual_seed(0)
    from momentor.model.momentor import collate

    texts = conversations(kind, micro_batch * (steps + 2))
    batches = []
    for s in range(steps + 2):
        encoded = [model.prompts.encode(t) for t in texts[s * micro_batch : (s + 1) * micro_batch]]
        features = [
            torch.randn(model.prompts.num_frames, model.projection.in_features, generator=g) for _ in encoded
        ]
        batches.append(
            collate(encoded, features, [10.0 + i for i in range(micro_batch)], model.tokenizer.pad_token_id)
        )
    with FlopCounterMode(display=False) as counter:
        train_step(engine, [batches[0]])
    counted = counter.get_total_flops()
    train_step(engine, [batches[1]])  # warm-up
    flops = [model_flops(model, b) for b in batches[2:]]
    started = time.perf_counter()
    losses = [train_step(engine, [b])["loss"] for b in batches[2:]]
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "seconds": seconds,
        "samples_per_s": steps * micro_batch / seconds,
        "model_flops_per_s": sum(f["total"] for f in flops) / seconds,
        "counted_flops_per_step": counted,
        "model_flops_per_step": flops[0]["total"],
        "flops_parts": flops[0]["parts"],
        "tokens_per_step": flops[0]["tokens"],
        "padded_tokens_per_step": flops[0]["padded_tokens"],
        "decoder_params": flops[0]["decoder_params"],
        "losses": losses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=("tiny", "cpu"))
    parser.add_argument("--modes", nargs="+", default=["bf16"], choices=tuple(MODES))
    parser.add_argument(
        "--micro-batch", type=int, default=None, help="default: train.micro_batch_size of params.yaml"
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--kind", default="instruct", choices=("gesm", "instruct"))
    args = parser.parse_args()
    micro_batch = args.micro_batch or config_lib.load(ROOT / "params.yaml").train.micro_batch_size

    peak_bf16, peak_fp32 = gemm_peak(torch.bfloat16), gemm_peak(torch.float32)
    results = [measure(args.preset, mode, micro_batch, args.steps, args.kind) for mode in args.modes]
    peak_bf16, peak_fp32 = max(peak_bf16, gemm_peak(torch.bfloat16)), max(peak_fp32, gemm_peak(torch.float32))

    rows = [
        row("bf16 GEMM peak (2048^2)", peak_bf16 / 1e12, "TFLOP/s"),
        row("fp32 GEMM peak (2048^2)", peak_fp32 / 1e12, "TFLOP/s"),
    ]
    base = next((r for r in results if r["mode"] == "fp32"), None)
    for r in results:
        parts = {k: round(v / 1e9, 2) for k, v in r["flops_parts"].items()}
        rows.append(
            row(
                f"{args.preset} {args.kind} {r['mode']} samples/s",
                r["samples_per_s"],
                "samples/s",
                "fp32" if base else None,
                base["samples_per_s"] if base else None,
            )
        )
        rows.append(
            row(
                f"{args.preset} {r['mode']} model FLOP/s / bf16 peak",
                r["model_flops_per_s"] / peak_bf16,
                "fraction",
                note=f"{r['model_flops_per_s'] / 1e12:.3f} TFLOP/s",
            )
        )
        rows.append(
            row(
                f"{args.preset} {r['mode']} model FLOP/s / fp32 peak",
                r["model_flops_per_s"] / peak_fp32,
                "fraction",
            )
        )
        print(
            f"{r['mode']}: {r['tokens_per_step']} tokens/step ({r['padded_tokens_per_step']} with padding), "
            f"model {r['model_flops_per_step'] / 1e9:.1f} GFLOP/step {json.dumps(parts)}, "
            f"counted {r['counted_flops_per_step'] / 1e9:.1f} GFLOP; losses {[round(x, 4) for x in r['losses']]}"
        )
    report(
        "train",
        rows,
        {"results": results, "micro_batch": micro_batch, "preset": args.preset, "kind": args.kind},
    )


if __name__ == "__main__":
    main()
