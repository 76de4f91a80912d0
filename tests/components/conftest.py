"""KFP tests: the project root on sys.path (``components`` is not an installed package).

Helpers live in uniquely named modules (``kfp_api_server``), never imported from a conftest: two test
folders each have a ``conftest`` module, and only one of them could be imported by that name."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
