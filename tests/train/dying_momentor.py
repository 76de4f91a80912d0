"""``momentor`` with a fault injected: the process SIGKILLs itself as training step ``$DIE_AT_STEP`` (1-based,
counted from where this process started) begins, like a node lost mid-stage. Test-only; run as a script."""

import os
import signal
import sys

from momentor import cli
from momentor.train import loop

DIE_AT = int(os.environ["DIE_AT_STEP"])
_train_step = loop.train_step
_started = 0


def _dying_train_step(*args, **kwargs):
    global _started
    _started += 1
    if _started == DIE_AT:
        os.kill(os.getpid(), signal.SIGKILL)  # a real, unclean death: no handler, no cleanup
    return _train_step(*args, **kwargs)


loop.train_step = _dying_train_step
sys.exit(cli.main(sys.argv[1:]))
