"""momentor: train, evaluate and ship Momentor, a video LLM for fine-grained temporal reasoning.

``from momentor import Momentor`` (and the names in :data:`API`) is the Python API (:mod:`momentor.api`); it is imported on first use, so
``import momentor`` (and the CLI) stays light.
"""

__version__ = "0.1.0"


#: the Python API's names, importable from the package itself
API = ("Momentor", "VideoFeatures", "Frames", "Window", "Event", "Highlights", "Segment")


def __getattr__(name: str):
    if name in API:
        from momentor import api

        return getattr(api, name)
    raise AttributeError(f"module 'momentor' has no attribute {name!r}")
