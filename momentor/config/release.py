"""The sections that decide whether a trained model ships and how: eval, gate, export."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from momentor.config.base import Float, Section

#: the tasks that have a random and a fixed baseline to beat
BASELINE_TASKS = Literal["grounding", "dense_captioning", "qvhighlights", "action_segmentation"]


class EvalConfig(Section):
    """Evaluation conventions: how each benchmark's reference evaluator counts (see docs/method.md)."""

    iou_thresholds: list[Annotated[Float, Field(gt=0, le=1)]] = Field(
        [0.3, 0.5, 0.7], min_length=1, description="IoU thresholds of R@1 (one or more, each in (0, 1])")
    iou_inclusive: bool = Field(True, description="R@1 counts IoU >= threshold (false: strict >)")
    iou_round: int | None = Field(
        None, description="round IoU to this many decimals before thresholding (null: no rounding)")
    clip_to_duration: bool = Field(True, description="clip ground truth and predictions to [0, duration]")
    max_new_tokens: int = Field(48, description="longest generated answer, in tokens")
    soda_aggregation: Literal["video", "corpus"] = Field(
        "video", description="SODA_c: mean per-video F (PDVC) or F of totals (fujiso)")
    segmentation_background: list[str] = Field(
        ["background"], description="labels left out of Edit/F1 segments (MS-TCN's bg_class); [SIL] excludes "
        "Breakfast's background")
    report_samples: int = Field(
        3, description="videos drawn as predicted-vs-true timelines in the HTML report")


class GateConfig(Section):
    """Promotion gate (:mod:`momentor.eval.gate`): paired bootstrap intervals over the evaluated items.

    Every evaluated task's headline metric (:mod:`momentor.eval.items`) is compared, on the same items,
    with the baselines and with the previous champion re-scored on the candidate's split.
    """

    beat_random: list[BASELINE_TASKS] = Field(
        ["grounding"], description="tasks whose candidate must beat the random baseline: lower bound of "
        "(candidate - baseline) > 0")
    beat_fixed: list[BASELINE_TASKS] = Field(
        [], description="the same against the fixed baseline (always computed and shown; the paper preset "
        "gates every task)")
    tolerance: Float = Field(
        0.0, ge=0, description="reject only when the candidate is worse than the champion by more (points)")
    resamples: int = Field(2000, ge=100, description="bootstrap resamples of the items")
    confidence: Float = Field(0.95, gt=0, lt=1, description="of the percentile intervals")
    seed: int = Field(
        0, description="of the resampling: the same items resampled the same way for every comparison")
    floors: dict[str, Float] = Field({}, description="optional absolute floors, e.g. grounding.R1@0.5: 20.0")
    max_regression: Float | None = Field(
        None, description="retired (old checkpoints' configs carry it); use tolerance")
    champion: str = Field(
        "champion", description="folder, relative to paths.work, where the promoted model lives")
    keep_releases: int = Field(
        5, ge=0, description="past champions kept beside it for rollback (the current one always stays)")


class ExportConfig(Section):
    """ONNX export of the frame encoder (``momentor export``, :mod:`momentor.export`)."""

    opset: int = Field(18, description="ONNX opset")
    atol: Float = Field(
        1e-4, description="parity of ONNX Runtime against PyTorch: |ort - torch| <= atol + rtol * |torch|")
    rtol: Float = Field(1e-3, description="relative tolerance of that parity")
    parity_batch_sizes: list[int] = Field([1, 3, 32], description="batch sizes the parity is checked at")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when a GPU is there, else CPU; cuda: fail without")
    int8: bool = Field(
        True, description="also write encoder_int8.onnx (static int8) if it passes the two quality floors "
        "below")
    int8_calibration_frames: int = Field(
        64, description="real frames the activation ranges are calibrated on")
    int8_min_cosine: Float = Field(
        0.98, description="mean cosine similarity of int8 to fp32 features, on held-out real frames")
    int8_min_top5_retrieval: Float = Field(
        0.95, description="share of frames whose fp32 nearest frame is in the int8 top 5")
