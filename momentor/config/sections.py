"""The data side's sections and the run's surroundings: model, paths, data, engine, validate, pipeline."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from momentor.config.base import Float, Section
from momentor.config.tasks import TASK_TYPES


class ModelConfig(Section):
    """The model: a preset (``tiny``, ``cpu``, ``paper``) plus overrides of its defaults."""

    preset: Literal["tiny", "cpu", "paper"] = Field(
        "cpu", description="tiny (random tiny config, tests) | cpu (EfficientNet-Lite0 + SmolLM2-135M) | "
        "paper (CLIP ViT-L/14 + Vicuna-7B)")
    num_frames: int | None = Field(None, ge=2, description="M, frames per video; null = the preset's")
    num_temporal_tokens: int | None = Field(None, ge=2, description="N, temporal tokens; null = the preset's")
    encoder_path: str | None = Field(
        None, description="local folder or hub id of the frame encoder (paper preset)")
    llm_path: str | None = Field(None, description="local folder or hub id of the LLM (paper preset)")
    ntp: bool = Field(True, description="neighboring token propagation (ablation switch)")
    interpolation: bool = Field(
        True, description="continuous timestamps by interpolation; false = nearest token (ablation)")
    timestamps: Literal["tokens", "text"] = Field(
        "tokens", description="text = the text-seconds baseline (ablation)")
    frame_norm: bool = Field(
        True, description="projected frames at the word embeddings' norm; false = the paper's plain Linear")
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="storage dtype of the frozen LLM and encoder")
    lora_rank: int = Field(
        0, ge=0, description="rank of LoRA adapters on the LLM (momentor/model/lora.py); 0 = the paper's "
        "frozen LLM")
    lora_alpha: Float = Field(
        32.0, description="LoRA scale: the adapters' update is multiplied by alpha / rank")
    lora_targets: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], description="the LLM's linear layers that get adapters")

    @model_validator(mode="after")
    def _adapters_have_targets(self) -> ModelConfig:
        if self.lora_rank and not self.lora_targets:
            raise ValueError(
                "lora_targets: empty; name the LLM's linear layers to adapt (e.g. [q_proj, v_proj])")
        return self


class PathsConfig(Section):
    """Where the pipeline reads and writes, relative to the project root."""

    raw: str = Field("data", description="raw videos + annotations, tracked by data.dvc")
    work: str = Field("work", description="every pipeline output (features, manifests, checkpoints, metrics)")
    cache: str = Field(
        "~/.cache/momentor", description="converted weights and feature caches shared between runs")


class SampleCorpusConfig(Section):
    """The embedded sample corpus built by ``momentor sample-data``."""

    seed: int = Field(0, description="seed of the rendered corpus")
    num_videos: int = Field(48, description="videos rendered")
    min_events: int = Field(2, description="fewest events per video")
    max_events: int = Field(4, description="most events per video")
    fps: int = Field(8, description="frames per second of the rendered videos")
    size: int = Field(160, description="square frame side in pixels")
    splits: dict[str, Annotated[Float, Field(ge=0, le=1)]] = Field(
        {"train": 0.7, "val": 0.15, "test": 0.15}, description="fraction of the videos in each split (sum 1)")
    real_fraction: Float = Field(
        0.3, description="chance that an event is a shot of a real clip instead of a rendered scene")
    queries_per_event: int = Field(3, description="grounding phrasings per event (1-4)")

    @field_validator("splits")
    @classmethod
    def _splits_sum_to_one(cls, splits: dict[str, float]) -> dict[str, float]:
        if abs(sum(splits.values()) - 1.0) > 1e-6:
            raise ValueError(f"fractions {splits} must sum to 1")
        return splits


class SourceConfig(Section):
    """One annotation source for ``momentor ingest`` (a file, or the folder that holds its files)."""

    format: Literal[
        "sample", "charades_sta", "activitynet_captions", "qvhighlights", "youcook2", "breakfast",
        "moment10m", "gesm",
    ] = Field("sample", description="annotation format (momentor/data/formats)")
    path: str = Field("data/sample", description="the annotation file, or the folder that holds its files")
    split: str | None = Field(
        None, description="null = the split the source's files say (see momentor.data.formats)")
    videos: str | None = Field(
        None, description="folder of the videos named <video_id>.<ext>; null = annotations only")


class DataConfig(Section):
    """Ingestion: decoding, frame sampling and feature extraction."""

    sample: SampleCorpusConfig = Field(SampleCorpusConfig(), description="the embedded sample corpus")
    feature_batch_size: int = Field(32, ge=1, description="frames per batch of the frame encoder")
    feature_backend: Literal["torch", "onnx"] = Field(
        "torch", description="runs the frame encoder: PyTorch, or the exported ONNX model")
    feature_bf16: bool = Field(
        True, description="bf16 autocast for the frozen encoder on CPUs that support it")
    past_end_policy: Literal["clip", "drop", "keep"] = Field(
        "clip", description="annotations that end after the video: clip them to it, drop them or keep them")
    seek_gap_s: Float = Field(
        4.0, description="decoding seeks instead of decoding through gaps longer than this")
    sources: list[SourceConfig] = Field([SourceConfig()], description="what `momentor ingest` reads")


class EngineConfig(Section):
    """The Moment-10M data engine: boundaries, instance tracks, instructions."""

    sample_fps: Float = Field(4.0, description="frames per second decoded for scene scores and detection")
    frame_size: int = Field(96, description="short side (pixels) of those frames")
    boundary_sigma: Float = Field(0.5, description="Gaussian smoothing of scene scores, in frames")
    boundary_threshold: Float = Field(
        0.5, description="smoothed scene score (colour-histogram distance, 0..1) a peak must exceed")
    boundary_min_gap_s: Float = Field(
        1.0, description="of two peaks closer than this only the higher is a boundary")
    merge_similarity: Float = Field(
        0.93, description="cosine similarity of mean frame features at or above which neighbours merge")
    merge_instance_overlap: Float = Field(
        0.5, description="... and Jaccard overlap of their instances at or above which they merge")
    boundary_tolerance_s: Float = Field(1.0, description="tolerance of the boundary precision/recall report")
    detector: Literal["colour", "oracle"] = Field(
        "colour", description="colour blobs (real detector) or the annotated boxes")
    detector_min_area: Float = Field(0.004, description="smallest colour blob, fraction of the frame")
    track_min_iou: Float = Field(
        0.1, description="IoU that links a detection to a track in the previous sampled frame")
    track_max_gap: int = Field(2, description="sampled frames a track may miss before it ends")
    track_min_frames: int = Field(3, description="instances seen in fewer sampled frames are flicker")
    presence_threshold: Float = Field(
        0.3, description="fraction of an event's frames an instance must be in to appear in it")
    caption_source: Literal["auto", "gt", "instances"] = Field(
        "auto", description="event captions (see data/engine/captions.py)")
    min_instruction_score: Float = Field(0.5, description="instructions scoring below this are dropped")
    gesm: bool = Field(True, description="also write one GESM event sequence per video")
    tasks: list[str] = Field(list(TASK_TYPES), description="instruction task types the engine writes")


class ValidateConfig(Section):
    """Great Expectations validation of the manifest, instructions and features."""

    stop_on_failure: bool = Field(
        True, description="a failed validation exits non-zero (stops the pipeline)")
    suites: list[Literal["manifest", "instructions", "features"]] = Field(
        ["manifest", "instructions", "features"], description="the expectation suites run")
    time_tolerance_s: Float = Field(
        0.01, description="slack for times past the video end (timestamps are written with 2 decimals)")
    examples: int = Field(3, description="failing rows shown per failed expectation")


class PipelineConfig(Section):
    """Orchestration: schedule and remote endpoints."""

    schedule: str = Field(
        "0 3 * * 1", description="cron of the scheduled retraining (the Airflow DAG's and the chart's "
        "CronJob's)")
    kfp_endpoint: str | None = Field(None, description="Kubeflow Pipelines API; null = none configured")
    shards: int = Field(
        1, ge=1, description="feature extraction and the data engine run as this many parallel shards, merged "
        "after (KFP ParallelFor, Airflow mapped tasks, DVC foreach after `momentor pipeline compile`); 1 = one task")
