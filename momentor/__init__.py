"""momentor: train, evaluate and ship Momentor, a video LLM for fine-grained temporal reasoning.

``from momentor import Momentor`` is the Python API (:mod:`momentor.api`); it is imported on first use, so
``import momentor`` (and the CLI) stays light.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Momentor":
        from momentor.api import Momentor

        return Momentor
    raise AttributeError(f"module 'momentor' has no attribute {name!r}")
