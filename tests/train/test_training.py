"""Training stages on the tiny preset, in this process (the DeepSpeed engine is the real one)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from momentor.hashing import file_sha256
from momentor.model.builders import build_model
from momentor.model.momentor import collate
from momentor.train import checkpointing
from momentor.train.dataset import STAGE_TASKS, stage_examples
from momentor.train.deepspeed_config import bf16_hardware
from momentor.train.engine import enable_gradient_checkpointing
from momentor.train.loop import train
from momentor.train.progress import COLUMNS, read_metrics

FAST = ("train.micro_batch_size=2", "train.gesm.lr=0.01", "train.instruct.lr=0.01", "train.align.lr=0.01")


def weights(folder):
    return load_file(str(folder / "trainable.safetensors"))


def test_gesm_then_instruct_from_its_checkpoint(tiny_cfg, tmp_path):
    cfg = tiny_cfg(*FAST, "train.gesm.max_steps=3", "train.instruct.max_steps=2", "train.checkpoint_every=2")
    gesm = train(cfg, "gesm", tmp_path / "gesm", show_progress=False)
    assert gesm == tmp_path / "gesm" / "final" and checkpointing.is_complete(gesm)
    assert [p.name for p in checkpointing.step_checkpoints(tmp_path / "gesm")] == ["step_00000002"]
    rows = read_metrics(tmp_path / "gesm" / "metrics.csv")
    assert [r["step"] for r in rows] == [1, 2, 3] and set(rows[0]) == set(COLUMNS)
    assert all(r["stage"] == "gesm" and r["loss"] > 0 and r["time_loss"] > 0 for r in rows)
    state = json.loads((gesm / checkpointing.STATE_JSON).read_text())
    assert state["step"] == 3 and state["plan"]["num_examples"] == len(
        stage_examples(cfg.paths.work + "/manifest", "gesm")
    )
    assert set(state["data_version"]) == {"videos.parquet", "instructions.parquet", "index.parquet"}
    # the held-out loss on the val split, at the checkpoint step and the last one
    assert [r["step"] for r in rows if r["val_loss"] is not None] == [2, 3] and rows[-1]["val_loss"] > 0
    summary = json.loads((tmp_path / "gesm" / "train_summary.json").read_text())
    assert summary["steps"] == 3 and summary["loss"] == rows[-1]["loss"] and summary["val_loss"] == rows[-1]["val_loss"]
    ds = json.loads((tmp_path / "gesm" / "deepspeed_config.json").read_text())
    assert ds["optimizer"]["params"]["torch_adam"] is True and ds["train_micro_batch_size_per_gpu"] == 2

    instruct = train(cfg, "instruct", tmp_path / "instruct", init=tmp_path / "gesm", show_progress=False)
    state = json.loads((instruct / checkpointing.STATE_JSON).read_text())
    assert state["init"]["sha256"] == file_sha256(gesm / "trainable.safetensors")
    before, after = weights(gesm), weights(instruct)
    assert set(before) == set(after) and not torch.equal(
        before["projection.weight"], after["projection.weight"]
    )
    # a finished stage is not trained again
    assert (
        train(cfg, "instruct", tmp_path / "instruct", init=tmp_path / "gesm", show_progress=False) == instruct
    )


def test_loss_goes_down(tiny_cfg, tmp_path):
    cfg = tiny_cfg(
        "train.micro_batch_size=4", "train.gesm.lr=0.02", "train.gesm.max_steps=40", "train.warmup_ratio=0.05"
    )
    train(cfg, "gesm", tmp_path, show_progress=False)
    losses = [r["loss"] for r in read_metrics(tmp_path / "metrics.csv")]
    assert sum(losses[-8:]) / 8 < 0.9 * sum(losses[:8]) / 8, losses


@pytest.mark.skipif(not bf16_hardware(), reason="no native bf16 matmuls on this machine")
def test_bf16_autocast_tracks_the_fp32_loss_curve(tiny_cfg, tmp_path):
    curves = {}
    for bf16 in (False, True):
        cfg = tiny_cfg(*FAST, "train.gesm.max_steps=12", f"train.deepspeed.bf16={str(bf16).lower()}")
        train(cfg, "gesm", tmp_path / str(bf16), show_progress=False)
        curves[bf16] = torch.tensor([r["loss"] for r in read_metrics(tmp_path / str(bf16) / "metrics.csv")])
    assert not torch.equal(curves[True], curves[False])  # bf16 really ran
    torch.testing.assert_close(curves[True], curves[False], rtol=0.02, atol=0.0)


@pytest.mark.parametrize(
    "settings",
    [("train.deepspeed.zero_stage=2",), ("model.timestamps=text",), ("model.lora_rank=2", "train.gesm.lora_lr=1e-3")],
)
def test_resume_in_process_matches_the_uninterrupted_run(tiny_cfg, tmp_path, settings):
    # ZeRO-2 keeps AdamW state in flat partitions; the text baseline never updates the temporal tables; LoRA
    # adds a second parameter group with its own rate
    cfg = tiny_cfg(*FAST, *settings, "train.gesm.max_steps=4", "train.checkpoint_every=2")
    train(cfg, "gesm", tmp_path / "whole", show_progress=False)
    cut = tmp_path / "cut"
    shutil.copytree(
        tmp_path / "whole" / "checkpoints" / "step_00000002", cut / "checkpoints" / "step_00000002"
    )
    lines = (tmp_path / "whole" / "metrics.csv").read_text().splitlines()
    (cut / "metrics.csv").write_text(
        "\n".join(lines[:3] + ["4,gesm,half-written"]) + "\n"
    )  # a torn last line
    train(cfg, "gesm", cut, show_progress=False)
    assert (cut / "metrics.csv").read_text().splitlines()[:3] == lines[:3]
    assert [r["loss"] for r in read_metrics(cut / "metrics.csv")] == [
        r["loss"] for r in read_metrics(tmp_path / "whole" / "metrics.csv")
    ]
    for name, tensor in weights(tmp_path / "whole" / "final").items():
        assert torch.equal(tensor, weights(cut / "final")[name]), name


def test_resume_refuses_a_run_with_other_settings(tiny_cfg, tmp_path):
    train(
        tiny_cfg(*FAST, "train.gesm.max_steps=2", "train.checkpoint_every=1"),
        "gesm",
        tmp_path,
        show_progress=False,
    )
    shutil.rmtree(tmp_path / "final")
    with pytest.raises(RuntimeError, match="train.gesm.lr"):
        train(
            tiny_cfg(*FAST, "train.gesm.max_steps=2", "train.gesm.lr=0.5"),
            "gesm",
            tmp_path,
            show_progress=False,
        )


def test_half_written_checkpoints_are_never_used(tmp_path):
    (tmp_path / "checkpoints" / "step_00000009.staging").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_00000007").mkdir()  # no training_state.json: killed before it was named
    assert checkpointing.step_checkpoints(tmp_path) == []
    checkpointing.remove_staging(tmp_path)
    assert not (tmp_path / "checkpoints" / "step_00000009.staging").exists()


def test_disabled_stage_passes_its_initial_weights_on(tiny_cfg, tmp_path):
    cfg = tiny_cfg(*FAST, "train.gesm.max_steps=2")
    start = train(cfg, "gesm", tmp_path / "start", show_progress=False)
    skipped = train(
        tiny_cfg("train.instruct.enabled=false"),
        "instruct",
        tmp_path / "off",
        init=start,
        show_progress=False,
    )
    assert not (tmp_path / "off" / "metrics.csv").exists()
    assert json.loads((skipped / checkpointing.STATE_JSON).read_text())["skipped"] is True
    for name, tensor in weights(start).items():
        assert torch.equal(tensor, weights(skipped)[name])


def test_init_from_another_model_setting_is_refused(tiny_cfg, tmp_path):
    start = train(tiny_cfg(*FAST, "train.gesm.max_steps=1"), "gesm", tmp_path / "start", show_progress=False)
    with pytest.raises(ValueError, match="other model settings"):
        train(tiny_cfg("model.timestamps=text"), "instruct", tmp_path / "x", init=start, show_progress=False)


def test_align_pairs_each_event_clip_with_its_caption(tiny_cfg, tmp_path):
    from momentor.data.features import feature_dir
    from momentor.train.clips import training_events
    from momentor.train.dataset import FeatureStore

    cfg = tiny_cfg(*FAST, "train.align.enabled=true", "train.align.max_steps=2")
    manifest = f"{cfg.paths.work}/manifest"
    examples = stage_examples(manifest, "align")
    events = [part for video in training_events(manifest) for part in video]
    assert len(events) > len({p.video_id for p in events})  # more pairs than videos
    assert [e.parts for e in examples] == [(p,) for p in events]
    store = FeatureStore(feature_dir(cfg), 16)
    checked = 0
    for example, part in zip(examples, events):
        turns = json.loads(example.conversations)
        assert turns[0]["value"] == "<video>\nDescribe what happens in the video."
        caption = part.caption.strip().rstrip(".")
        assert turns[1]["value"] == caption[:1].upper() + caption[1:] + "."
        assert example.duration == pytest.approx(part.end - part.start)
        # the clip shows only its event's frames: source frames whose times lie in [start, end]
        frames = store.of(example)
        source = store[part.video_id]
        step = part.duration / 15
        inside = [source[k] for k in range(16) if part.start - 1e-6 <= k * step <= part.end + 1e-6]
        if inside:
            assert all(any(torch.equal(f, g) for g in inside) for f in frames)
            checked += 1
    assert checked >= len(examples) // 2, f"only {checked} of {len(examples)} clips span a source frame"
    train(cfg, "align", tmp_path, show_progress=False)
    assert len(read_metrics(tmp_path / "metrics.csv")) == 2


def test_gradient_checkpointing_gives_the_same_gradients(tiny_cfg):
    cfg = tiny_cfg()
    grads = []
    for checkpointed in (False, True):
        model = build_model(cfg.model, seed=0, with_encoder=False)
        model.train()
        if checkpointed:
            enable_gradient_checkpointing(model)
        turns = [
            {"from": "human", "value": "<video>\nWhen?"},
            {"from": "gpt", "value": "<t=1.5> ~ <t=4.0>: a dog."},
        ]
        enc = [model.prompts.encode(turns)] * 2
        feats = [
            torch.randn(16, model.projection.in_features, generator=torch.Generator().manual_seed(i))
            for i in range(2)
        ]
        calls = []
        # a module early inside the layer (transformers checkpoints the layer's forward, so the layer's own hooks
        # run once, and torch stops a recompute as soon as it has what backward needs)
        model.decoder.layers[0].self_attn.register_forward_pre_hook(lambda *_: calls.append(1))
        model(collate(enc, feats, [8.0, 9.0], model.tokenizer.pad_token_id))["loss"].backward()
        assert len(calls) == (2 if checkpointed else 1)  # a checkpointed layer runs again in backward
        grads.append({k: p.grad.clone() for k, p in model.trainable_parameters().items()})
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-5, atol=1e-7)


def test_stage_tasks_choose_the_instructions(tiny_cfg):
    manifest = f"{tiny_cfg().paths.work}/manifest"
    instruct = stage_examples(manifest, "instruct")
    rehearse = stage_examples(manifest, "instruct", tasks=list(STAGE_TASKS["instruct"]) + ["gesm"])
    gesm = stage_examples(manifest, "gesm")
    assert len(rehearse) == len(instruct) + len(gesm) and set(gesm) <= set(rehearse)
    with pytest.raises(ValueError, match="train.instruct.tasks: unknown task types \\['grounding'\\]"):
        stage_examples(manifest, "instruct", tasks=["grounding"])
    repeated = stage_examples(manifest, "instruct", tasks=list(STAGE_TASKS["instruct"]) + ["gesm"], repeats={"gesm": 3})
    assert len(repeated) == len(rehearse) + 2 * len(gesm)
    assert all(repeated.count(example) == 3 for example in gesm)
    with pytest.raises(ValueError, match="train.instruct.task_repeats: unknown task types \\['grounding'\\]"):
        stage_examples(manifest, "instruct", repeats={"grounding": 2})


def test_training_stops_at_the_first_non_finite_loss_and_saves_no_nan_model(tiny_cfg, tmp_path):
    from safetensors.torch import save_file

    from momentor.train.loop import NonFiniteLoss

    cfg = tiny_cfg(*FAST, "train.gesm.max_steps=2", "train.instruct.max_steps=3")
    gesm = train(cfg, "gesm", tmp_path / "gesm", show_progress=False)
    poisoned = tmp_path / "poisoned"
    shutil.copytree(gesm, poisoned)
    tensors = weights(poisoned)
    tensors["projection.weight"] = torch.full_like(tensors["projection.weight"], float("nan"))
    save_file(tensors, str(poisoned / "trainable.safetensors"))
    with pytest.raises(NonFiniteLoss, match=r"instruct: loss nan at step 1 of 3.*train\.instruct\.lr"):
        train(cfg, "instruct", tmp_path / "instruct", init=poisoned, show_progress=False)
    assert not (tmp_path / "instruct" / "final").exists()


def test_resume_skips_a_corrupt_newest_checkpoint_and_says_so(tiny_cfg, tmp_path, caplog):
    cfg = tiny_cfg(*FAST, "train.gesm.max_steps=6", "train.checkpoint_every=2", "train.keep_checkpoints=3")
    whole = train(cfg, "gesm", tmp_path / "whole", show_progress=False)
    run = tmp_path / "run"
    shutil.copytree(tmp_path / "whole", run)
    shutil.rmtree(run / "final")  # as if the run had died after its step-4 checkpoint
    newest = checkpointing.step_folder(run, 4) / "trainable.safetensors"
    newest.write_bytes(newest.read_bytes()[:5])  # a torn write
    caplog.set_level("INFO", logger="momentor.train.loop")
    final = train(cfg, "gesm", run, show_progress=False)
    assert "skipped checkpoint" in caplog.text and "step_00000004" in caplog.text
    assert "resumed gesm at step 2 of 6" in caplog.text
    for name, tensor in weights(whole).items():
        assert torch.equal(tensor, weights(final)[name]), name


def test_the_held_out_loss_does_not_change_what_is_trained(tiny_cfg, tmp_path):
    trained = {}
    for n in (0, 8):
        cfg = tiny_cfg(*FAST, "train.gesm.max_steps=3", "train.checkpoint_every=1", f"train.val_examples={n}")
        trained[n] = weights(train(cfg, "gesm", tmp_path / str(n), show_progress=False))
        held_out = [r["val_loss"] for r in read_metrics(tmp_path / str(n) / "metrics.csv")]
        assert held_out == [None] * 3 if n == 0 else all(v is not None for v in held_out)
    assert all(torch.equal(trained[0][k], trained[8][k]) for k in trained[0])
