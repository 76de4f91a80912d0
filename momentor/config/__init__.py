"""One typed config: pydantic models hold every key's default, type, bounds and description once.

``params.yaml`` holds what a user sets (DVC reads it natively); keys it leaves out keep the defaults declared
here. A config is validated on load: an unknown key, a value of the wrong type or outside its bounds is a
:class:`ConfigError` that names the key path and says what is allowed. Overrides are ``key.path=value``
strings (the value is parsed as YAML), the same form as ``dvc exp run -S``. ``momentor config --schema``
prints the JSON schema, the reference of every key.

Each section belongs to one concern of the package (``model``, ``data``, ``train``, ...) and is declared
once, in ``sections.py``, ``training.py`` or ``release.py``; ``schema.py`` assembles them into
:class:`Config`. This package imports nothing else from ``momentor``.
"""

from momentor.config.base import FLOAT_TEXT, ConfigError, Float, Section
from momentor.config.loading import dump, from_dict, json_schema, load, parse_override, read_yaml, to_dict
from momentor.config.release import EvalConfig, ExportConfig, GateConfig
from momentor.config.schema import Config
from momentor.config.sections import (DataConfig, EngineConfig, ModelConfig, PathsConfig, PipelineConfig,
                                      SampleCorpusConfig, SourceConfig, ValidateConfig)
from momentor.config.tasks import GESM, TASK_TYPES
from momentor.config.training import DeepSpeedConfig, StageConfig, TrainConfig

__all__ = [
    "FLOAT_TEXT", "GESM", "TASK_TYPES", "Config", "ConfigError", "DataConfig", "DeepSpeedConfig",
    "EngineConfig", "EvalConfig", "ExportConfig", "Float", "GateConfig", "ModelConfig", "PathsConfig",
    "PipelineConfig", "SampleCorpusConfig", "Section", "SourceConfig", "StageConfig", "TrainConfig",
    "ValidateConfig", "dump", "from_dict", "json_schema", "load", "parse_override", "read_yaml", "to_dict",
]
