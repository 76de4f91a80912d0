"""The instruction task types of Moment-10M (docs/method.md), one list for the config, the manifest and the engine.

They are declared with the config (:mod:`momentor.config.tasks`), which depends on nothing in the package.
"""

from momentor.config.tasks import GESM, TASK_TYPES

__all__ = ["GESM", "TASK_TYPES"]
