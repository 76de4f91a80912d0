"""What every config section shares: strict validation, unknown keys refused, partial sections."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

# a number in exponent form without a dot (1e-3): YAML 1.1, so PyYAML and `-S` overrides, reads it as a string
FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config key or value that is not allowed; the message names it and what to do."""


def _exponent_text_to_float(value: Any) -> Any:
    if isinstance(value, str) and FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads 1e-3 and 2e-5 (no dot) as strings
    return value


#: a real number; also read from exponent text without a dot (``2e-5``), which YAML 1.1 leaves a string
Float = Annotated[float, BeforeValidator(_exponent_text_to_float)]


def _overlay(default: BaseModel, raw: dict) -> dict:
    """``raw`` on top of ``default``'s values: a section inside recurses, any other value is replaced."""
    out = default.model_dump()
    for key, value in raw.items():
        current = getattr(default, key, None) if key in type(default).model_fields else None
        section = isinstance(current, Section) and isinstance(value, dict)
        out[key] = _overlay(current, value) if section else value
    return out


class Section(BaseModel):
    """A config section: its fields are its keys, each with a default, a type, bounds and a description.

    Validation is strict (``1`` is no ``true``, ``"8"`` no ``8``; an int is accepted as a float), an unknown
    key is an error and a non-finite number is refused.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _partial_sections_keep_their_defaults(cls, data: Any) -> Any:
        """A section given in part keeps its parent field's defaults for the rest, not its class's.

        ``train.gesm`` and ``train.instruct`` are both StageConfig with different epochs, and
        ``-S train.gesm.max_steps=3`` must not reset the gesm epochs to the class default.
        """
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None or not isinstance(value, dict):
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, Section):
                out[name] = _overlay(default, value)
        return out
