"""``momentor`` with a fault injected: as training step ``$DIE_AT_STEP`` (1-based, counted from where this
process started) begins, the process sends itself ``$DIE_SIGNAL`` (default KILL: a node lost mid-stage;
TERM: a pod preempted or drained). Test-only; run as a script."""

import os
import signal
import sys

from momentor import cli
from momentor.train import loop

DIE_AT = int(os.environ["DIE_AT_STEP"])
SIGNAL = getattr(signal, "SIG" + os.environ.get("DIE_SIGNAL", "KILL"))
_train_step = loop.train_step
_started = 0


def _dying_train_step(*args, **kwargs):
    global _started
    _started += 1
    if _started == DIE_AT:
        os.kill(os.getpid(), SIGNAL)  # a real signal: KILL allows no cleanup, TERM is what a pod gets first
    return _train_step(*args, **kwargs)


loop.train_step = _dying_train_step
sys.exit(cli.main(sys.argv[1:]))
