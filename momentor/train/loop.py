"""``momentor train``: one training stage (align, gesm or instruct) through DeepSpeed, resumable step by step.

    train(cfg, "gesm", out="work/train/gesm")
    train(cfg, "instruct", out="work/train/instruct", init="work/train/gesm/final")

The stage's examples come from the manifest and the cached features (:mod:`momentor.train.dataset`); the
step plan and the data order from :mod:`momentor.train.schedule`. Every ``train.checkpoint_every`` steps
and at the end a full checkpoint is written (:mod:`momentor.train.checkpointing`); started again with the
same ``--out``, the run continues from its newest checkpoint and computes the same losses at the same steps
as if it had never stopped, on any number of processes with the same global batch (``--nproc-per-node``,
:mod:`momentor.train.launch`). A disabled stage (``train.<stage>.enabled: false``, the GESM ablation) writes
its starting weights as its final checkpoint, so a pipeline keeps its shape.
"""

from __future__ import annotations

import logging
import random
import shutil
import signal
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from momentor.config import Config
from momentor.hashing import file_sha256
from momentor.model import checkpoint as model_checkpoint
from momentor.model.builders import build_model
from momentor.model.momentor import Batch
from momentor.train import checkpointing, launch
from momentor.train.dataset import FeatureStore, StageDataset, data_version, stage_examples
from momentor.train.deepspeed_config import use_bf16
from momentor.train.engine import build_engine, prepare_model
from momentor.train.progress import Progress, write_summary
from momentor.train.schedule import STAGES, StagePlan, plan_stage, step_micro_batches

log = logging.getLogger(__name__)
LOGGED = ("loss", "token_loss", "time_loss")


class Preempted(SystemExit):
    """SIGTERM (a pod being preempted or drained) arrived: a checkpoint of the last finished step was written."""

    def __init__(self, message: str):
        super().__init__(143)  # 128 + SIGTERM, what the orchestrator expects of a terminated process
        self.message = message


class _SigtermFlag:
    """Remembers a SIGTERM instead of dying at once, so the loop can checkpoint first (main thread only)."""

    def __init__(self):
        self.received = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or infinite: the step is not taken, so the weights stay as they were."""


def train_step(engine, micro_batches: list[Batch]) -> dict[str, float]:
    """One optimizer step: forward and backward of each micro-batch (DeepSpeed accumulates and steps at
    the last one). Returns the mean loss parts over the micro-batches.

    Raises:
        NonFiniteLoss: a micro-batch's loss is not finite (checked before its backward pass).
    """
    totals = dict.fromkeys(LOGGED, 0.0)
    for batch in micro_batches:
        out = engine(batch.to(engine.device))
        loss = out["loss"].detach()
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"loss {float(loss)}")
        engine.backward(out["loss"])
        engine.step()
        for key in LOGGED:
            totals[key] += float(out[key].detach())
    return {key: value / len(micro_batches) for key, value in totals.items()}


def validation_loss(
    engine, dataset: StageDataset, pad_id: int, micro_batch: int, place: launch.ProcessPlace
) -> float:
    """The mean loss over the held-out examples, without gradients (the weights and the RNG are untouched).

    The examples are cut into micro-batches as in a single process, and the processes take them in turn
    (rank r the r-th, (r+W)-th, ...): each batch's loss is the one world size 1 computes, and their sum is
    added up across processes.
    """
    engine.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(place.rank * micro_batch, len(dataset), place.world_size * micro_batch):
            indices = list(range(start, min(start + micro_batch, len(dataset))))
            out = engine(dataset.batch(indices, pad_id).to(engine.device))
            total, count = total + float(out["loss"]) * len(indices), count + len(indices)
    engine.train()
    total, count = sum_over_processes([total, count], place.world_size)
    return total / max(count, 1)


def sum_over_processes(values: list[float], world_size: int) -> list[float]:
    """``values`` added up element by element over all processes (float64; unchanged in a world of one)."""
    if world_size == 1:
        return values
    import deepspeed.comm as dist

    summed = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(summed)
    return summed.tolist()


def mean_over_processes(metrics: dict[str, float], world_size: int) -> dict[str, float]:
    summed = sum_over_processes([metrics[k] for k in LOGGED], world_size)
    return {k: v / world_size for k, v in zip(LOGGED, summed)}


def any_process(flag: bool, world_size: int) -> bool:
    """Whether ``flag`` is set in any process: every process then takes the same branch.

    SIGTERM reaches the processes of a launch one by one; a process that saw it one step before its peers
    would enter the (collective) checkpoint save while they enter the next step's all-reduce, and both wait.
    """
    return sum_over_processes([float(flag)], world_size)[0] > 0


def barrier(place: launch.ProcessPlace) -> None:
    """Wait for every process (after rank 0 wrote or deleted files the others are about to read)."""
    if place.world_size > 1:
        import deepspeed.comm as dist

        dist.barrier()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_init(model, cfg: Config, init: str | Path | None) -> dict | None:
    """Start from another stage's checkpoint or a released model (its model settings must be these)."""
    if init is None:
        return None
    from safetensors.torch import load_file

    from momentor.model import pretrained

    init = pretrained.resolve(init)
    if pretrained.load_config(init).model != cfg.model:
        raise ValueError(
            f"--init {init} was trained with other model settings; see the `model` section of its config"
        )
    weights = pretrained.weights_file(init)
    model_checkpoint.load_state(model, load_file(str(weights)), init)
    return {"path": str(init), "sha256": file_sha256(weights)}


def stage_dataset(cfg: Config, stage: str, model, manifest_dir: Path) -> tuple[StageDataset, dict]:
    from momentor.data.features import feature_dir

    features = feature_dir(cfg)
    schedule = getattr(cfg.train, stage)
    examples = stage_examples(manifest_dir, stage, tasks=schedule.tasks, repeats=schedule.task_repeats)
    dataset = StageDataset(
        examples, FeatureStore(features, model.prompts.num_frames), model.prompts, cfg.train.max_length
    )
    if not len(dataset):
        raise ValueError(
            f"stage {stage} has no training examples with features in {manifest_dir} / {features}; run "
            "`momentor ingest`, `momentor features` and `momentor engine` first"
        )
    return dataset, data_version(manifest_dir, features, stage)


def validation_dataset(cfg: Config, stage: str, model, manifest_dir: Path) -> StageDataset | None:
    """Up to ``train.val_examples`` of the stage's val-split examples (the first ones: the same every run)."""
    from momentor.data.features import feature_dir

    if not cfg.train.val_examples:
        return None
    tasks = getattr(cfg.train, stage).tasks
    examples = stage_examples(manifest_dir, stage, split="val", tasks=tasks)[: cfg.train.val_examples]
    dataset = StageDataset(examples, FeatureStore(feature_dir(cfg), model.prompts.num_frames), model.prompts,
                           cfg.train.max_length)
    return dataset if len(dataset) else None


def resume(out: Path, cfg: Config, model, engine, state: dict, plan: StagePlan) -> int:
    """Load the newest step checkpoint of ``out`` that loads; the number of steps already done.

    A checkpoint that does not load (a torn or corrupt file on a volume that lost writes) is skipped with a
    warning naming it and why, and the one before it is tried; one of another run's settings is an error.
    """
    skipped = []
    for folder in reversed(checkpointing.step_checkpoints(out)):
        try:
            checkpointing.check_resumable(folder, cfg, state)
            resumed = checkpointing.load(folder, model, engine)
        except checkpointing.CheckpointMismatch:
            raise
        except Exception as err:  # safetensors, JSON and file errors all mean: this folder is unusable
            log.warning("skipped checkpoint %s: it does not load (%s: %s); trying the one before it",
                        folder, type(err).__name__, err)
            skipped.append(folder.name)
            continue
        engine.global_steps = resumed.step
        engine.global_samples = resumed.step * plan.global_batch
        engine.micro_steps = resumed.step * plan.accumulation
        log.info("resumed %s at step %d of %d from %s", state["stage"], resumed.step, plan.total_steps, folder)
        return resumed.step
    if skipped:  # a failed load may have changed some tensors already: starting from them would mix runs
        raise RuntimeError(f"no checkpoint of {out} loads ({', '.join(skipped)}); start over with --restart")
    return 0


def _save_step(cfg: Config, out: Path, model, engine, state: dict, step: int, row: dict, place) -> Path:
    folder = checkpointing.step_folder(out, step)
    checkpointing.save(folder, model, cfg, engine, {**state, "step": step, "metrics": row}, place.is_main)
    if place.is_main:
        checkpointing.prune(out, cfg.train.keep_checkpoints)
    barrier(place)
    return folder


def _run_steps(cfg: Config, out: Path, model, engine, dataset, state: dict, plan: StagePlan, place, progress,
               done: int, sigterm: _SigtermFlag, val: StageDataset | None = None) -> dict | None:
    """Steps ``done + 1`` to the end of the plan, with periodic checkpoints; the last step's metrics row.

    ``val``: held-out examples, whose loss is logged at every checkpoint step and the last.

    On SIGTERM the running step finishes, is checkpointed, and :class:`Preempted` ends the process.
    """
    stage, pad_id, row = state["stage"], model.tokenizer.pad_token_id, None
    for step in range(done, plan.total_steps):
        micro = step_micro_batches(plan, cfg.train.seed, step, place.rank)
        lr = engine.get_lr()[0]  # the rate this step uses (the scheduler moves after the step)
        try:
            metrics = train_step(engine, [dataset.batch(indices, pad_id) for indices in micro])
        except NonFiniteLoss as err:
            raise NonFiniteLoss(
                f"{stage}: {err} at step {step + 1} of {plan.total_steps}; nothing after step {done} was saved. "
                f"Lower train.{stage}.lr, keep train.gradient_clipping on, or check the initial weights "
                f"(--init) for NaN"
            ) from None
        last = step + 1 == plan.total_steps
        held_out = None
        if val is not None and (last or (step + 1) % cfg.train.checkpoint_every == 0):
            held_out = validation_loss(engine, val, pad_id, cfg.train.micro_batch_size, place)
        row = progress.step(step + 1, mean_over_processes(metrics, place.world_size), lr, held_out)
        stop = any_process(sigterm.received, place.world_size) and not last
        if stop or ((step + 1) % cfg.train.checkpoint_every == 0 and not last):
            _save_step(cfg, out, model, engine, state, step + 1, row, place)
        if stop:
            progress.close()
            raise Preempted(f"{stage}: SIGTERM after step {step + 1} of {plan.total_steps}; checkpoint written, "
                            "the next start resumes from it")
    return row


def train(
    cfg: Config,
    stage: str,
    out: str | Path,
    init: str | Path | None = None,
    manifest_dir: str | Path | None = None,
    restart: bool = False,
    show_progress: bool = True,
) -> Path:
    """Run (or continue) one stage; returns its final checkpoint folder ``<out>/final``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    out = Path(out)
    place = launch.process_place()
    launch.init_process_group(place)
    if restart and place.is_main:
        shutil.rmtree(out, ignore_errors=True)
    barrier(place)  # every process sees the same folder from here on
    final = out / checkpointing.FINAL
    if checkpointing.is_complete(final):
        log.info("%s is done already (%s); pass --restart to train it again", stage, final)
        return final
    out.mkdir(parents=True, exist_ok=True)
    if place.is_main:
        checkpointing.remove_staging(out)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, seed=cfg.seed, with_encoder=False)
    state = {"stage": stage, "init": load_init(model, cfg, init)}
    if not getattr(cfg.train, stage).enabled:
        log.info(
            "stage %s is disabled (train.%s.enabled=false): its final checkpoint is its initial weights",
            stage,
            stage,
        )
        if place.is_main:
            checkpointing.save_untrained(final, model, cfg, {**state, "step": 0, "skipped": True})
        barrier(place)
        return final

    manifest_dir = Path(manifest_dir or Path(cfg.paths.work) / "manifest")
    dataset, state["data_version"] = stage_dataset(cfg, stage, model, manifest_dir)
    plan = plan_stage(stage, cfg.train, getattr(cfg.train, stage), len(dataset), place.world_size)
    state["plan"] = asdict(plan)
    log.info(
        "%s: %d examples, %d steps of %d (%.2f epochs)",
        stage,
        plan.num_examples,
        plan.total_steps,
        plan.global_batch,
        plan.epochs,
    )
    bf16 = use_bf16(cfg.train)
    prepare_model(model, cfg, bf16)
    engine = build_engine(model, cfg, stage, plan, place, bf16, out)
    done = resume(out, cfg, model, engine, state, plan)

    progress = Progress(
        out, stage, plan.total_steps, done, plan.global_batch, show_progress and place.is_main, place.is_main
    )
    with _SigtermFlag() as sigterm:
        row = _run_steps(cfg, out, model, engine, dataset, state, plan, place, progress, done, sigterm,
                         validation_dataset(cfg, stage, model, manifest_dir))
    progress.close()
    if dataset.truncated:
        log.warning(
            "%d conversations were cut at train.max_length=%d tokens", dataset.truncated, cfg.train.max_length
        )
    summary = {**state, "step": plan.total_steps, "metrics": row}
    checkpointing.save(final, model, cfg, engine, summary, place.is_main)
    if place.is_main:
        write_summary(out, plan.epochs)
    barrier(place)  # the next stage in this process starts from ``final``: it must be whole on every rank
    log.info("%s finished: %s", stage, final)
    return final
