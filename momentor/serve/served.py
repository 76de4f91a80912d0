"""The model a server answers with: loaded in the background, and replaced when the champion moves.

Liveness must answer while a model loads (a paper-size LLM takes minutes), so loading runs in a thread and
readiness waits for it. When the served folder is the champion's (a link that promotion swaps to a new
release), a watcher notices the link point elsewhere (every ``serve.reload_seconds``), loads the new release
beside the old one, and swaps them: requests in flight finish on the old model, the next ones get the new
one, and the server never stops answering. A new release that fails to load leaves the old model serving and
says why on ``/v1/model``. Loading beside the old model needs memory for both for a moment; set
``serve.reload_seconds: 0`` to turn the watcher off (then restart the server to change models).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Served:
    """The current model (None until the first load), where it was loaded from, and the last load error."""

    def __init__(self, source: str | Path, load=None, reload_seconds: float = 0.0):
        self.source = str(source)
        self.model = None
        self.target: str | None = None  # the folder the model was loaded from, links resolved
        self._tried: str | None = None  # the folder the last load tried (a failed one is not retried)
        self.error: str | None = None
        self._load = load
        self._reload_seconds = reload_seconds
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="momentor-load", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        self.load()
        while self._reload_seconds > 0 and not self._stop.wait(self._reload_seconds):
            if os.path.realpath(self.source) != self._tried:
                log.info("%s now points at %s: loading it", self.source, os.path.realpath(self.source))
                self.load()

    def load(self) -> None:
        from momentor import Momentor

        target = self._tried = os.path.realpath(self.source)
        try:
            model = (self._load or Momentor.from_pretrained)(self.source)
        except Exception as err:  # the old model (if any) keeps serving; /readyz or /v1/model say why
            self.error = f"{target}: {type(err).__name__}: {err}"
            log.error("cannot load %s", self.error)
            return
        self.model, self.target, self.error = model, target, None  # one assignment each: readers see old or new
        log.info("serving %r from %s", model, target)
