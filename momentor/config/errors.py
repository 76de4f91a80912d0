"""Pydantic's validation errors as :class:`ConfigError` messages naming the key path and what is allowed."""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError

from momentor.config.base import ConfigError

_EXPECTED = {
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "is too small; use a value of at least {}"),
    "greater_than": ("gt", "is too small; use a value greater than {}"),
    "less_than_equal": ("le", "is too large; use a value of at most {}"),
    "less_than": ("lt", "is too large; use a value less than {}"),
}


def _unwrap(tp: Any) -> Any:
    """``X`` of ``X | None`` and of ``Annotated[X, ...]``."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if type(None) in typing.get_args(tp) and len(args) == 1:
            tp = args[0]
            continue
        return tp


def _type_at(root: type[BaseModel], loc: tuple) -> Any:
    """The declared type at ``loc`` (field names, list indices, mapping keys) below ``root``."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        else:  # list[X] -> X, dict[K, X] -> X
            args = typing.get_args(tp)
            if not args:
                return None
            tp = args[-1]
    return _unwrap(tp)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _allowed_range(root: type[BaseModel], loc: tuple) -> str | None:
    """``(0, 1000]`` for a field bounded on both sides, else None."""
    owner = _type_at(root, loc[:-1]) if loc else None
    if not (isinstance(owner, type) and issubclass(owner, BaseModel)) or loc[-1] not in owner.model_fields:
        return None
    low = high = None
    for bound in owner.model_fields[loc[-1]].metadata:
        if isinstance(bound, annotated_types.Ge):
            low = f"[{_number(bound.ge)}"
        elif isinstance(bound, annotated_types.Gt):
            low = f"({_number(bound.gt)}"
        elif isinstance(bound, annotated_types.Le):
            high = f"{_number(bound.le)}]"
        elif isinstance(bound, annotated_types.Lt):
            high = f"{_number(bound.lt)})"
    return f"{low}, {high}" if low and high else None


def key_path(loc: tuple) -> str:
    """``("train", "gesm", "lr")`` -> ``train.gesm.lr``; list indices as ``[i]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(root: type[BaseModel], error: dict) -> str:
    loc, kind, value, ctx = tuple(error["loc"]), error["type"], error.get("input"), error.get("ctx") or {}
    key = key_path(loc)
    if kind == "extra_forbidden":
        owner = _type_at(root, loc[:-1])
        allowed = ", ".join(sorted(owner.model_fields)) if owner is not None else "?"
        return f"unknown config key {key}; allowed keys here: {allowed}"
    if kind in ("model_type", "model_attributes_type"):
        section = _type_at(root, loc)
        name = section.__name__ if isinstance(section, type) else "section"
        return f"{key}: expected a mapping of {name} keys, got {value!r}"
    if value is None and kind in _EXPECTED:
        return f"{key}: may not be null; give {_EXPECTED[kind]}"
    if kind in _EXPECTED:
        return f"{key}: expected {_EXPECTED[kind]}, got {value!r}"
    if kind == "literal_error":
        return f"{key}: {value!r} is not allowed; use one of {ctx.get('expected')}"
    if kind == "finite_number":
        return f"{key}: {value!r} is not a finite number; give a real value"
    if kind in _BOUNDS:
        allowed = _allowed_range(root, loc)
        if allowed:
            return f"{key}: {value!r} is out of range; use a value in {allowed}"
        bound, text = _BOUNDS[kind]
        return f"{key}: {value!r} {text.format(_number(ctx.get(bound)))}"
    if kind == "too_short":
        return f"{key}: {value!r} is too short; give at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        # a section's own check names its field first ("lora_targets: empty; ..."); a field's check does not
        where = _type_at(root, loc)
        if isinstance(where, type) and issubclass(where, BaseModel):
            return f"{key}.{text}" if key else text
        return f"{key}: {text}"
    return f"{key}: {error['msg']} (got {value!r})"


def explain(root: type[BaseModel], err: ValidationError) -> ConfigError:
    """One ConfigError for all of ``err``'s problems, one line each."""
    return ConfigError("\n".join(dict.fromkeys(_message(root, e) for e in err.errors())))
