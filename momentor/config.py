"""One typed config, loaded from ``params.yaml``.

``params.yaml`` holds every default once. DVC reads it natively; here it is loaded into the dataclasses
below and validated on load: an unknown key, a value of the wrong type or a value outside its allowed set
is a :class:`ConfigError` that names the key path and says what is allowed. Overrides are ``key.path=value``
strings (the value is parsed as YAML), the same form as ``dvc exp run -S``.

Each section belongs to one concern of the package (``model``, ``data``, ``train``, ...). A section's
dataclass is the single place its keys are declared; give every field a default so that a partial
``params.yaml`` is valid.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from momentor.data.tasks import TASK_TYPES

# a number in exponent form without a dot (1e-3): YAML 1.1, so PyYAML and `-S` overrides, reads it as a string
FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config key or value that is not allowed; the message names it and what to do."""


# ----------------------------------------------------------------------------------------------------------
# sections


@dataclass
class ModelConfig:
    """The model: a preset (``tiny``, ``cpu``, ``paper``) plus overrides of its defaults."""

    preset: Literal["tiny", "cpu", "paper"] = "cpu"
    num_frames: int | None = None  # M; None = the preset's
    num_temporal_tokens: int | None = None  # N; None = the preset's
    encoder_path: str | None = None  # local folder or hub id of the frame encoder (paper preset)
    llm_path: str | None = None  # local folder or hub id of the LLM (paper preset)
    ntp: bool = True  # neighboring token propagation (ablation switch)
    interpolation: bool = True  # continuous timestamps by interpolation; False = nearest token (ablation)
    timestamps: Literal["tokens", "text"] = "tokens"  # text = the text-seconds baseline (ablation)
    frame_norm: bool = True  # projected frames at the word embeddings' norm; False = the paper's plain Linear
    dtype: Literal["float32", "bfloat16"] = "float32"  # storage dtype of the frozen LLM and encoder
    # LoRA adapters on the LLM (momentor/model/lora.py); 0 = the paper's frozen LLM
    lora_rank: int = 0
    lora_alpha: float = 32.0
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class PathsConfig:
    """Where the pipeline reads and writes, relative to the project root."""

    raw: str = "data"  # raw videos + annotations, tracked by data.dvc
    work: str = "work"  # every pipeline output (features, manifests, checkpoints, metrics)
    cache: str = "~/.cache/momentor"  # converted weights and feature caches shared between runs


@dataclass
class SampleCorpusConfig:
    """The embedded sample corpus built by ``momentor sample-data``."""

    seed: int = 0
    num_videos: int = 48
    min_events: int = 2
    max_events: int = 4
    fps: int = 8
    size: int = 160  # square frame side in pixels
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.7, "val": 0.15, "test": 0.15})
    real_fraction: float = 0.3  # chance that an event is a shot of a real clip instead of a rendered scene
    queries_per_event: int = 3  # grounding phrasings per event (1-4)


@dataclass
class SourceConfig:
    """One annotation source for ``momentor ingest`` (a file, or the folder that holds its files)."""

    format: Literal[
        "sample", "charades_sta", "activitynet_captions", "qvhighlights", "youcook2", "breakfast", "moment10m", "gesm"
    ] = "sample"
    path: str = "data/sample"
    split: str | None = None  # None = the split the source's files say (see momentor.data.formats)
    videos: str | None = None  # folder of the videos named <video_id>.<ext>; None = annotations only


@dataclass
class DataConfig:
    """Ingestion: decoding, frame sampling and feature extraction."""

    sample: SampleCorpusConfig = field(default_factory=SampleCorpusConfig)
    feature_batch_size: int = 32
    feature_backend: Literal["torch", "onnx"] = "torch"
    feature_bf16: bool = True  # bf16 autocast for the frozen encoder on CPUs that support it
    past_end_policy: Literal["clip", "drop", "keep"] = "clip"  # annotations that end after the video
    seek_gap_s: float = 4.0  # decoding seeks instead of decoding through gaps longer than this
    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig()])  # what `momentor ingest` reads


@dataclass
class EngineConfig:
    """The Moment-10M data engine: boundaries, instance tracks, instructions."""

    sample_fps: float = 4.0  # frames per second decoded for scene scores and detection
    frame_size: int = 96  # short side (pixels) of those frames
    boundary_sigma: float = 0.5  # Gaussian smoothing of scene scores, in frames
    boundary_threshold: float = 0.5  # smoothed scene score (colour-histogram distance, 0..1) a peak must exceed
    boundary_min_gap_s: float = 1.0  # of two peaks closer than this only the higher is a boundary
    merge_similarity: float = 0.93  # cosine similarity of mean frame features at or above which neighbours merge
    merge_instance_overlap: float = 0.5  # ... and Jaccard overlap of their instances at or above which they merge
    boundary_tolerance_s: float = 1.0  # tolerance of the boundary precision/recall report
    detector: Literal["colour", "oracle"] = "colour"  # colour blobs (real detector) or the annotated boxes
    detector_min_area: float = 0.004  # smallest colour blob, fraction of the frame
    track_min_iou: float = 0.1  # IoU that links a detection to a track in the previous sampled frame
    track_max_gap: int = 2  # sampled frames a track may miss before it ends
    track_min_frames: int = 3  # instances seen in fewer sampled frames are flicker
    presence_threshold: float = 0.3  # fraction of an event's frames an instance must be in to appear in it
    caption_source: Literal["auto", "gt", "instances"] = "auto"  # event captions (see data/engine/captions.py)
    min_instruction_score: float = 0.5  # instructions scoring below this are dropped
    gesm: bool = True  # also write one GESM event sequence per video
    tasks: list[str] = field(default_factory=lambda: list(TASK_TYPES))


@dataclass
class ValidateConfig:
    """Great Expectations validation of the manifest, instructions and features."""

    stop_on_failure: bool = True  # a failed validation exits non-zero (stops the pipeline)
    suites: list[Literal["manifest", "instructions", "features"]] = field(
        default_factory=lambda: ["manifest", "instructions", "features"]
    )
    time_tolerance_s: float = 0.01  # slack for times past the video end (timestamps are written with 2 decimals)
    examples: int = 3  # failing rows shown per failed expectation


@dataclass
class DeepSpeedConfig:
    """What the DeepSpeed JSON config is derived from."""

    zero_stage: Literal[0, 1, 2, 3] = 0
    bf16: bool = True
    gradient_checkpointing: bool = False


@dataclass
class StageConfig:
    """One training stage's schedule."""

    enabled: bool = True
    epochs: float = 1.0
    max_steps: int | None = None  # stop after this many optimizer steps (None = epochs decide)
    lr: float = 1e-2  # the cpu preset's rate (only the projection and temporal tables train); paper: 2e-5
    tasks: list[str] | None = None  # instruction tasks read (None: gesm -> gesm, instruct -> the 8 task types)
    task_repeats: dict[str, int] = field(default_factory=dict)  # {task: k}: its examples count k times per epoch
    lora_lr: float | None = None  # rate of the LoRA adapters (model.lora_rank > 0); None = lr


@dataclass
class TrainConfig:
    """Training recipe shared by all stages (the paper's recipe is the ``paper`` preset's default)."""

    seed: int = 0
    micro_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.0
    warmup_ratio: float = 0.01
    gradient_clipping: float = 1.0  # max global gradient norm (0 = no clipping)
    max_length: int = 2048  # longer conversations are cut at the end (never inside the video)
    checkpoint_every: int = 50  # optimizer steps between checkpoints (and one at the end)
    keep_checkpoints: int = 2  # the newest K step checkpoints are kept
    val_examples: int = 64  # held-out loss on up to N val-split examples at each checkpoint and the end (0: off)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    align: StageConfig = field(default_factory=lambda: StageConfig(enabled=False))
    gesm: StageConfig = field(default_factory=lambda: StageConfig(epochs=5.0))  # 34 sequences: 5 passes
    # the 8 task types plus GESM rehearsal: without it the cpu preset forgot the event-sequence answer format
    # during instruction tuning (dense captions came out as "." after the timestamps)
    instruct: StageConfig = field(default_factory=lambda: StageConfig(epochs=1.6, tasks=[*TASK_TYPES, "gesm"]))


@dataclass
class EvalConfig:
    """Evaluation conventions: how each benchmark's reference evaluator counts (see docs/method.md)."""

    iou_thresholds: list[float] = field(default_factory=lambda: [0.3, 0.5, 0.7])
    iou_inclusive: bool = True  # R@1 counts IoU >= threshold (False: strict >)
    iou_round: int | None = None  # round IoU to this many decimals before thresholding (None: no rounding)
    clip_to_duration: bool = True  # clip ground truth and predictions to [0, duration]
    max_new_tokens: int = 48
    soda_aggregation: Literal["video", "corpus"] = "video"  # SODA_c: mean per-video F (PDVC) or F of totals (fujiso)
    # labels left out of Edit/F1 segments (MS-TCN's bg_class); ["SIL"] excludes Breakfast's background
    segmentation_background: list[str] = field(default_factory=lambda: ["background"])
    report_samples: int = 3  # videos drawn as predicted-vs-true timelines in the HTML report


@dataclass
class GateConfig:
    """Promotion gate (:mod:`momentor.eval.gate`): paired bootstrap intervals over the evaluated items.

    Every evaluated task's headline metric (:mod:`momentor.eval.items`) is compared, on the same items,
    with the baselines and with the previous champion re-scored on the candidate's split.
    """

    # tasks whose candidate must beat the random baseline: lower bound of (candidate - baseline) > 0
    beat_random: list[str] = field(default_factory=lambda: ["grounding"])
    # the same against the fixed baseline (always computed and shown; the paper preset gates every task)
    beat_fixed: list[str] = field(default_factory=list)
    tolerance: float = 0.0  # reject only when the candidate is worse than the champion by more (points)
    resamples: int = 2000  # bootstrap resamples of the items
    confidence: float = 0.95  # of the percentile intervals
    seed: int = 0  # of the resampling: the same items resampled the same way for every comparison
    floors: dict[str, float] = field(default_factory=dict)  # optional absolute floors, e.g. grounding.R1@0.5
    max_regression: float | None = None  # retired (old checkpoints' configs carry it); use tolerance
    champion: str = "champion"  # folder, relative to paths.work, where the promoted model lives
    keep_releases: int = 5  # past champions kept beside it for rollback (the current one always stays)


@dataclass
class ExportConfig:
    """ONNX export of the frame encoder (``momentor export``, :mod:`momentor.export`)."""

    opset: int = 18
    atol: float = 1e-4  # parity of ONNX Runtime against PyTorch: |ort - torch| <= atol + rtol * |torch|
    rtol: float = 1e-3
    parity_batch_sizes: list[int] = field(default_factory=lambda: [1, 3, 32])
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when a GPU is there, else CPU; cuda: fail without
    int8: bool = True  # also write encoder_int8.onnx (static int8) if it passes the two quality floors below
    int8_calibration_frames: int = 64  # real frames the activation ranges are calibrated on
    int8_min_cosine: float = 0.98  # mean cosine similarity of int8 to fp32 features, on held-out real frames
    int8_min_top5_retrieval: float = 0.95  # share of frames whose fp32 nearest frame is in the int8 top 5


@dataclass
class PipelineConfig:
    """Orchestration: schedule and remote endpoints."""

    schedule: str = "0 3 * * 1"  # cron of the scheduled retraining
    kfp_endpoint: str | None = None


@dataclass
class Config:
    """The whole resolved config."""

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)


# ----------------------------------------------------------------------------------------------------------
# loading and validation


def _check(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp``, or raise a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} keys, got {value!r}")
        return _build(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{key}: may not be null")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} fits none of {tp}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed or type(value) is not type(next(a for a in allowed if a == value)):
            raise ConfigError(f"{key}: {value!r} is not allowed; use one of {', '.join(map(repr, allowed))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_check(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        ktp, vtp = typing.get_args(tp)
        return {_check(k, ktp, key): _check(v, vtp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and FLOAT_TEXT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 and 2e-5 (no dot) as strings
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: {value!r} is not a finite number; give a real value")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(f"config type {tp} of {key} is not supported")  # a bug in this module, not in the input


def _build(cls: type, raw: dict, prefix: str = "", base: Any = None) -> Any:
    """``cls`` from a partial mapping: keys not given keep the defaults of ``base`` (default: ``cls()``).

    A section's defaults are its parent field's default, not its class's: ``train.gesm`` and
    ``train.instruct`` are both StageConfig with different epochs, and ``-S train.gesm.max_steps=3`` must not
    reset the gesm epochs to the class default.
    """
    base = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key {where}{unknown[0]!s}; allowed keys here: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for k, v in raw.items():
        key = f"{prefix}.{k}" if prefix else k
        if dataclasses.is_dataclass(hints[k]) and isinstance(v, dict):
            kwargs[k] = _build(hints[k], v, key, base=getattr(base, k))
        else:
            kwargs[k] = _check(v, hints[k], key)
    return dataclasses.replace(base, **kwargs)


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
    """Build and validate a Config from a mapping plus ``key.path=value`` overrides."""
    raw = dict(raw or {})
    raw = _deep_copy(raw)
    for text in overrides:
        _apply_override(raw, *parse_override(text))
    cfg = _build(Config, raw)
    _validate_values(cfg)
    return cfg


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def _validate_values(cfg: Config) -> None:
    """Checks of values that the types alone cannot express."""
    minimum = {
        "model.num_frames": (cfg.model.num_frames, 2),
        "model.num_temporal_tokens": (cfg.model.num_temporal_tokens, 2),
        "train.micro_batch_size": (cfg.train.micro_batch_size, 1),
        "train.gradient_accumulation_steps": (cfg.train.gradient_accumulation_steps, 1),
        "data.feature_batch_size": (cfg.data.feature_batch_size, 1),
        "gate.keep_releases": (cfg.gate.keep_releases, 0),
        "gate.resamples": (cfg.gate.resamples, 100),
        "train.val_examples": (cfg.train.val_examples, 0),
        "train.checkpoint_every": (cfg.train.checkpoint_every, 1),
        "train.keep_checkpoints": (cfg.train.keep_checkpoints, 1),
    }
    for key, (value, least) in minimum.items():
        if value is not None and value < least:
            raise ConfigError(f"{key}: {value} is too small; use a value of at least {least}")
    for name in ("align", "gesm", "instruct"):
        stage = getattr(cfg.train, name)
        if stage.lr <= 0:
            raise ConfigError(f"train.{name}.lr: {stage.lr} must be positive")
        if not 0 < stage.epochs <= 1000:
            raise ConfigError(f"train.{name}.epochs: {stage.epochs} must be in (0, 1000]")
        if stage.max_steps is not None and stage.max_steps < 1:
            raise ConfigError(f"train.{name}.max_steps: {stage.max_steps} must be at least 1 (or null: epochs decide)")
        if stage.lora_lr is not None and stage.lora_lr <= 0:
            raise ConfigError(f"train.{name}.lora_lr: {stage.lora_lr} must be positive (or null: the stage's lr)")
        for task, k in stage.task_repeats.items():
            if k < 1:
                raise ConfigError(f"train.{name}.task_repeats.{task}: {k} is too small; use a whole number of at least 1")
    if cfg.model.lora_rank < 0:
        raise ConfigError(f"model.lora_rank: {cfg.model.lora_rank} must be 0 (no adapters) or positive")
    if cfg.model.lora_rank and not cfg.model.lora_targets:
        raise ConfigError("model.lora_targets: empty; name the LLM's linear layers to adapt (e.g. [q_proj, v_proj])")
    for key in ("beat_random", "beat_fixed"):
        unknown = sorted(set(getattr(cfg.gate, key)) - {"grounding", "dense_captioning"})
        if unknown:
            raise ConfigError(f"gate.{key}: {', '.join(unknown)} has no baseline; list grounding and/or "
                              "dense_captioning, e.g. [grounding]")
    if not 0 < cfg.gate.confidence < 1:
        raise ConfigError(f"gate.confidence: {cfg.gate.confidence} must be strictly between 0 and 1, e.g. 0.95")
    if cfg.gate.tolerance < 0:
        raise ConfigError(f"gate.tolerance: {cfg.gate.tolerance} must be 0 or positive (points of the metric)")
    if not 0 <= cfg.train.warmup_ratio < 1:
        raise ConfigError(f"train.warmup_ratio: {cfg.train.warmup_ratio} must be in [0, 1)")
    bad = [t for t in cfg.eval.iou_thresholds if not 0 < t <= 1]
    if bad or not cfg.eval.iou_thresholds:
        raise ConfigError(f"eval.iou_thresholds: {cfg.eval.iou_thresholds} must be one or more values in (0, 1]")
    splits = cfg.data.sample.splits
    if any(not 0 <= f <= 1 for f in splits.values()):
        raise ConfigError(f"data.sample.splits: fractions {splits} must each be in [0, 1]")
    if abs(sum(splits.values()) - 1.0) > 1e-6:
        raise ConfigError(f"data.sample.splits: fractions {splits} must sum to 1")


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


def _read_yaml(path: Path):
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
    """Load ``params.yaml`` (or only defaults when ``path`` is None) and apply overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist; run from the project root or pass --params")
        raw = _read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    return from_dict(raw, overrides)


def to_dict(cfg: Any) -> dict:
    """The resolved config as plain data (for saving next to checkpoints and metrics)."""
    return dataclasses.asdict(cfg)


def dump(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
