"""momentor: train, evaluate and ship Momentor, a video LLM for fine-grained temporal reasoning."""

__version__ = "0.1.0"
