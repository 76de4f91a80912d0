"""The whole config: one section per concern of the package."""

from __future__ import annotations

import warnings

from pydantic import Field

from momentor.config.base import Section
from momentor.config.release import EvalConfig, ExportConfig, GateConfig
from momentor.config.sections import (DataConfig, EngineConfig, ModelConfig, PathsConfig, PipelineConfig,
                                      ValidateConfig)
from momentor.config.serving import ServeConfig
from momentor.config.training import TrainConfig

with warnings.catch_warnings():
    # the `validate` section shadows BaseModel.validate, pydantic v1's deprecated spelling of model_validate
    warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)

    class Config(Section):
        """The whole resolved config."""

        seed: int = Field(
            0, description="seed of the model's initial weights and of the data engine's instructions")
        model: ModelConfig = Field(ModelConfig(), description="the model: a preset plus overrides")
        paths: PathsConfig = Field(PathsConfig(), description="where the pipeline reads and writes")
        data: DataConfig = Field(
            DataConfig(), description="ingestion: sample corpus, decoding, frame features")
        engine: EngineConfig = Field(EngineConfig(), description="the Moment-10M data engine")
        validate: ValidateConfig = Field(ValidateConfig(), description="Great Expectations validation")
        train: TrainConfig = Field(TrainConfig(), description="training recipe and its stages")
        eval: EvalConfig = Field(EvalConfig(), description="evaluation conventions")
        gate: GateConfig = Field(GateConfig(), description="promotion gate")
        export: ExportConfig = Field(ExportConfig(), description="ONNX export of the frame encoder")
        pipeline: PipelineConfig = Field(
            PipelineConfig(), description="orchestration: schedule and endpoints")
        serve: ServeConfig = Field(ServeConfig(), description="momentor serve: the model over HTTP")
