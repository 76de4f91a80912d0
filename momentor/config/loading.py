"""A params file and ``key.path=value`` overrides read into a validated :class:`Config`, and written back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from momentor.config.base import ConfigError
from momentor.config.errors import explain
from momentor.config.schema import Config


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key.path=value")
    key, _, raw = text.partition("=")
    if not key.strip():
        raise ConfigError(f"override {text!r} has no key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({err.problem}); quote it, e.g. "
                          f"{key.strip()}='\"{raw}\"'") from err
    return key.strip().split("."), value


def _apply_override(raw: dict, path: list[str], value: Any) -> None:
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {'.'.join(path)}: {part} is not a section")
    node[path[-1]] = value


def from_dict(raw: dict | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Build and validate a Config from a (partial) mapping plus ``key.path=value`` overrides.

    Keys not given keep the package defaults (the field defaults of :class:`Config` and its sections).
    """
    raw = copy.deepcopy(dict(raw or {}))
    for text in overrides:
        _apply_override(raw, *parse_override(text))
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise explain(Config, err) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"key {key!r} appears twice in one mapping (lines {seen[key]} and "
                                  f"{key_node.start_mark.line + 1}); keep one")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def read_yaml(path: Path):
    """The parsed file; a syntax error or a duplicate key names the file and the line."""
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None


def load(path: str | Path | None = "params.yaml", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load ``params.yaml`` (or only the package defaults when ``path`` is None) and apply overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(
                f"config file {path} does not exist; run from the project root or pass --params")
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    return from_dict(raw, overrides)


def to_dict(cfg: BaseModel) -> dict:
    """The resolved config (or one section of it) as plain data, saved next to checkpoints and metrics."""
    return cfg.model_dump()


def dump(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def json_schema() -> dict:
    """The JSON schema of params.yaml: every key's type, bounds, default and description."""
    return Config.model_json_schema()
