"""Frame encoder of the cpu preset (EfficientNet-Lite0): ONNX Runtime fp32 and int8 against torch eager fp32 and bf16.

Rows (frames/s at batch 32, 224 px, normalised pixels of real frames in, features out; the preprocessing is
the same function for every engine and is timed on its own row):

- torch eager fp32 (the baseline of every ratio), torch bf16 autocast, ORT fp32 (``encoder.onnx``), ORT int8
  (``encoder_int8.onnx``, static QDQ);
- parity of each against torch fp32 on held-out real frames: largest absolute error, cosine similarity, and
  how well frame retrieval is kept (see :func:`momentor.export.parity.retrieval_parity`).

Each engine runs in its own process, so that its peak RSS is its own (the ORT processes never import torch),
and the processes take turns: ``--rounds`` rounds, each timing ``--repeats`` calls per engine, so that load
from other processes on the shared cores falls on every engine alike. The best call is reported, and the
spread (median / best, worst / best) says how noisy the run was.

    .venv/bin/python bench/bench_encoder.py [--rounds 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, row

ENGINES = ("torch fp32", "torch bf16", "ORT fp32", "ORT int8")
BATCH = 32


def _engine(name: str, folder: Path):
    """A callable pixels (b, 3, s, s) float32 array -> features (b, d), built inside the worker process."""
    if name.startswith("ORT"):
        import onnxruntime as ort

        file = "encoder.onnx" if name == "ORT fp32" else "encoder_int8.onnx"
        session = ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
        assert session.get_providers()[0] == "CPUExecutionProvider"
        return lambda x: session.run(None, {"pixels": x})[0]
    import torch

    from momentor.model.encoder import EncoderSpec, build_encoder

    encoder = build_encoder(EncoderSpec("efficientnet_lite0"))
    bf16 = name == "torch bf16"

    def run(x):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return encoder.embed(torch.from_numpy(x)).float().numpy()

    return run


def _worker(name: str, folder: Path, conn) -> None:
    """Serve one engine: ('time', n) -> n call times; ('rss',) -> peak RSS MB so far; ('features', path) ->
    features of the frames in that file; ('stop',) -> None."""
    import numpy as np

    run = _engine(name, folder)
    batch = np.load(folder / "batch.npy")
    run(batch), run(batch)  # warm-up: first-call allocations and kernel selection out of the timing
    while True:
        message = conn.recv()
        if message[0] == "time":
            times = []
            for _ in range(message[1]):
                start = time.perf_counter()
                run(batch)
                times.append(time.perf_counter() - start)
            conn.send(times)
        elif message[0] == "rss":
            conn.send(_peak_rss_mb())
        elif message[0] == "features":
            conn.send(run(np.load(message[1])))
        else:
            conn.send(None)
            return


def _peak_rss_mb() -> float:
    """Peak RSS of this process (MB) from VmHWM: ``ru_maxrss`` survives fork + exec, so a spawned worker would
    report its parent's peak (the export) instead of its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def prepare(folder: Path) -> dict:
    """Export the cpu preset encoder (+ int8) into ``folder`` and write the timed batch and held-out frames."""
    import numpy as np
    import torch

    from momentor import config
    from momentor.export.onnx_export import export_encoder
    from momentor.export.quantize import (
        CALIBRATION_CLIPS,
        EVALUATION_CLIPS,
        EVALUATION_FRAMES_PER_CLIP,
        clip_pixels,
    )
    from momentor.export.runtime import OnnxFrameEncoder

    cfg = config.from_dict({"model": {"preset": "cpu"}, "paths": {"cache": str(folder / "cache")}})
    metadata = export_encoder(cfg, folder / "export", int8=True)
    if not metadata["int8"]["kept"]:
        raise SystemExit(f"the int8 variant was not kept ({metadata['int8']}); nothing to compare")
    fp32 = OnnxFrameEncoder.from_export(folder / "export")
    # the timed batch: real frames the int8 ranges were calibrated on are not used for judging parity
    batch = clip_pixels(fp32.preprocess, 224, CALIBRATION_CLIPS, BATCH)
    np.save(folder / "export" / "batch.npy", batch)
    np.save(
        folder / "held_out.npy",
        clip_pixels(fp32.preprocess, 224, EVALUATION_CLIPS, EVALUATION_FRAMES_PER_CLIP),
    )
    frames = torch.randint(0, 256, (BATCH, 240, 320, 3), dtype=torch.uint8)
    start = time.perf_counter()
    for _ in range(3):
        fp32.preprocess(frames)
    metadata["preprocess_frames_per_s"] = 3 * BATCH / (time.perf_counter() - start)
    return metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import numpy as np

    from momentor.export.parity import retrieval_parity

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        metadata = prepare(tmp)
        ctx = mp.get_context("spawn")
        pipes, procs = {}, []
        for name in ENGINES:
            pipes[name], child = ctx.Pipe()
            procs.append(ctx.Process(target=_worker, args=(name, tmp / "export", child), daemon=True))
            procs[-1].start()
        times = {name: [] for name in ENGINES}
        for _ in range(args.rounds):  # engines take turns, so that outside load falls on all of them
            for name in ENGINES:
                pipes[name].send(("time", args.repeats))
                times[name] += pipes[name].recv()
        rss, features = {}, {}
        for name in ENGINES:  # peak RSS of serving batches of 32, before the parity run on a larger batch
            pipes[name].send(("rss",))
            rss[name] = pipes[name].recv()
            pipes[name].send(("features", str(tmp / "held_out.npy")))
            features[name] = pipes[name].recv()
            pipes[name].send(("stop",))
            pipes[name].recv()
        for proc in procs:
            proc.join()

    rate = {name: BATCH / min(t) for name, t in times.items()}
    noise = {name: {"median_over_best": statistics.median(t) / min(t), "worst_over_best": max(t) / min(t),
                    "calls": len(t)} for name, t in times.items()}  # fmt: skip
    reference = features["torch fp32"]
    rows = []
    for name in ENGINES:
        quality = retrieval_parity(reference, features[name]) if name != "torch fp32" else None
        error = float(np.abs(features[name] - reference).max())
        note = (
            f"max|err| {error:.2g}, cos mean {quality['cosine_mean']:.4f} min {quality['cosine_min']:.4f}, "
            f"top1 {quality['top1_agreement']:.2f}, top5 {quality['top5_retrieval']:.2f}; "
            if quality
            else ""
        ) + f"noise median/best {noise[name]['median_over_best']:.2f}"
        rows.append(row(f"{name}, batch {BATCH}, 224 px", rate[name], "frames/s", "torch fp32",
                        rate["torch fp32"], note=note, peak_rss=rss[name]))  # fmt: skip
        if quality:
            rows[-1]["parity"] = {"max_abs_error": error, **quality}
    rows.append(row("preprocess uint8 240x320 -> 224 px (shared)", metadata["preprocess_frames_per_s"], "frames/s",
                    note="FrameEncoder.preprocess, the same for every engine"))  # fmt: skip
    for r in rows:
        print(f"  {r['row']}: {r['note']}")
    report("encoder", rows, {"noise": noise, "times_s": times, "int8_export": metadata["int8"],
                             "threads": "torch and ORT defaults (2 intra-op threads here)"})  # fmt: skip


if __name__ == "__main__":
    main()
