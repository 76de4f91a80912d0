"""A warm answer (Python API, and HTTP through ``momentor serve``) against the cold CLI (``momentor ask``).

The same question about the same real clip with the same cpu-preset model (EfficientNet-Lite0 + SmolLM2-135M;
untrained trainable parts: the timing does not depend on them) and the same answer length cap:

- cold: ``momentor ask VIDEO QUESTION --checkpoint CKPT`` in a fresh process (Python and torch start, the LLM
  and the frame encoder load, the video decodes, the answer is generated), best of 2;
- warm, API: ``Momentor.from_pretrained`` once, then ``model.ask`` (decode + encode + generate), best of 3;
- warm, HTTP: ``momentor serve``'s app on uvicorn, a multipart upload of the clip to ``/v1/ask``, best of 3.

Ratios are cold seconds / warm seconds (how many warm answers fit in one cold one).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, report, row

from momentor.train.launch import passive_thread_waits

passive_thread_waits()  # before torch is imported, as the CLI and the server do
from momentor import assets  # noqa: E402
from momentor import config as config_lib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What happens in the video?"
MAX_NEW_TOKENS = 16  # the model's eval.max_new_tokens: every path generates at most this many


def main() -> None:
    from momentor import Momentor
    from momentor.model import checkpoint
    from momentor.model.builders import build_model

    clip = assets.sample_clip("bikes.mp4")
    cfg = config_lib.from_dict({"model": {"preset": "cpu"}, "eval": {"max_new_tokens": MAX_NEW_TOKENS}})
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = checkpoint.save(build_model(cfg.model, seed=0, with_encoder=False), cfg, Path(tmp) / "model")
        cli = [sys.executable, "-m", "momentor.cli", "ask", str(clip), QUESTION, "--checkpoint", str(ckpt)]
        cold = best_of(lambda: subprocess.run(cli, cwd=ROOT, check=True, capture_output=True), 2)

        started = time.perf_counter()
        model = Momentor.from_pretrained(ckpt)
        load = time.perf_counter() - started
        model.ask(clip, QUESTION)  # first answer: lazy encoder load, oneDNN warm-up
        warm = best_of(lambda: model.ask(clip, QUESTION), 3)
        del model

        http = _http_seconds(ckpt, clip)
    rows = [
        row("warm answer, Python API (cpu preset)", warm, "s", "cold CLI (momentor ask)", cold,
            higher_is_better=False, note=f"model load once: {load:.1f} s"),
        row("warm answer over HTTP (momentor serve)", http, "s", "cold CLI (momentor ask)", cold,
            higher_is_better=False, note="multipart upload to /v1/ask, uvicorn on 127.0.0.1"),
    ]
    report("serve", rows)


def _http_seconds(ckpt: Path, clip: Path) -> float:
    import httpx

    sys.path.insert(0, str(ROOT / "tests" / "api"))
    from running_server import RunningServer

    from momentor.serve.app import create_app

    data = clip.read_bytes()

    def ask(url: str) -> None:
        response = httpx.post(f"{url}/v1/ask", files={"video": (clip.name, data, "video/mp4")},
                              data={"question": QUESTION}, timeout=300)
        response.raise_for_status()

    with RunningServer(create_app(ckpt)) as server:
        server.wait_ready(timeout=600)
        ask(server.url)  # warm-up
        return best_of(lambda: ask(server.url), 3)


if __name__ == "__main__":
    main()
