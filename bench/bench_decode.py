"""Decoding: uniform sampling of M frames vs decoding the whole file, and memory flat in video length.

Rows:
- sampling M frames (``momentor.data.decode.sample_frames``) vs a full PyAV decode of the same file (and the
  ``ffmpeg`` CLI when it is on the machine), frames/s of the *video* processed;
- feature extraction peak RSS on a short and a 10x longer video, each in a fresh process (flat = ratio ~1).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, report, row  # noqa: E402

from momentor import assets  # noqa: E402
from momentor.data.decode import sample_frames  # noqa: E402

M = 32


def full_decode(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for frame in container.decode(stream) if frame.to_ndarray(format="rgb24") is not None)


def looped_video(source: Path, out: Path, loops: int) -> Path:
    """Re-encode ``source`` ``loops`` times back to back (a long real video, 320 px)."""
    with av.open(str(source)) as src:
        frames = [f.to_ndarray(format="rgb24", width=320, height=180) for f in src.decode(video=0)]
        rate = src.streams.video[0].average_rate
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for _ in range(loops):
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


RSS_PROBE = """
import json, sys, torch
from momentor.data.decode import sample_frames
from momentor.model.encoder import EncoderSpec, build_encoder
enc = build_encoder(EncoderSpec("efficientnet_lite0"))
frames, _ = sample_frames(sys.argv[1], {m}, short_side=224)
with torch.no_grad():
    enc(torch.from_numpy(frames))
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"rss_mb": int(hwm.split()[1]) / 1024}}))
"""


def feature_rss(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", RSS_PROBE.format(m=M), str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"]


def main() -> None:
    clip = assets.sample_clip("bikes.mp4")
    with av.open(str(clip)) as c:
        total = c.streams.video[0].frames or full_decode(clip)
    rows = []
    t_full = best_of(lambda: full_decode(clip), 2)
    t_sample = best_of(lambda: sample_frames(clip, M), 3)
    rows.append(row(f"sample {M} frames (bikes.mp4, 720p)", total / t_sample, "video fps", "PyAV full decode",
                    total / t_full))
    if shutil.which("ffmpeg"):
        t_ff = best_of(lambda: subprocess.run(["ffmpeg", "-v", "quiet", "-i", str(clip), "-f", "null", "-"],
                                              check=True), 2)
        rows.append(row(f"sample {M} frames (bikes.mp4, 720p)", total / t_sample, "video fps", "ffmpeg CLI decode",
                        total / t_ff))
    with tempfile.TemporaryDirectory() as tmp:
        short = looped_video(clip, Path(tmp) / "short.mp4", 1)
        long = looped_video(clip, Path(tmp) / "long.mp4", 10)
        rss_short, rss_long = feature_rss(short), feature_rss(long)
        rows.append(row("feature extraction peak RSS, 100 s video", rss_long, "MB", "same, 10 s video", rss_short,
                        higher_is_better=False, note="ratio ~1 = memory flat in video length", peak_rss=rss_long))
    report("decode", rows)


if __name__ == "__main__":
    main()
