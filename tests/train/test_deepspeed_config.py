from momentor import config as config_lib
from momentor.train.deepspeed_config import deepspeed_config


def test_deepspeed_config_is_derived_from_params():
    cfg = config_lib.from_dict(
        {},
        [
            "train.micro_batch_size=3",
            "train.gradient_accumulation_steps=2",
            "train.weight_decay=0.05",
            "train.gradient_clipping=0.5",
            "train.deepspeed.zero_stage=2",
            "train.instruct.lr=2.0e-5",
        ],
    )
    ds = deepspeed_config(
        cfg.train, cfg.train.instruct, total_steps=100, warmup_steps=3, world_size=8, bf16=True
    )
    assert ds["train_micro_batch_size_per_gpu"] == 3
    assert ds["gradient_accumulation_steps"] == 2
    assert ds["train_batch_size"] == 48
    assert ds["optimizer"] == {
        "type": "AdamW",
        "params": {"lr": 2e-5, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.05, "torch_adam": True},
    }
    assert ds["scheduler"]["type"] == "WarmupCosineLR"
    assert ds["scheduler"]["params"]["total_num_steps"] == 100
    assert ds["scheduler"]["params"]["warmup_num_steps"] == 3
    assert ds["scheduler"]["params"]["cos_min_ratio"] == 0.0
    assert ds["gradient_clipping"] == 0.5
    assert ds["zero_optimization"] == {"stage": 2}
    assert ds["torch_autocast"] == {"enabled": True, "dtype": "bfloat16"}
    off = deepspeed_config(cfg.train, cfg.train.instruct, 100, 3, 1, bf16=False)
    assert off["torch_autocast"]["enabled"] is False


def test_deepspeed_accepts_the_derived_config():
    from deepspeed.runtime.config import DeepSpeedConfig

    cfg = config_lib.from_dict({}, [])
    ds = DeepSpeedConfig(deepspeed_config(cfg.train, cfg.train.gesm, 50, 1, 1, bf16=True))
    assert ds.train_micro_batch_size_per_gpu == cfg.train.micro_batch_size
    assert ds.gradient_clipping == cfg.train.gradient_clipping
    assert ds.torch_autocast_enabled


def test_paper_recipe_is_the_paper_presets_defaults():
    from pathlib import Path

    cfg = config_lib.load(Path(__file__).resolve().parents[2] / "params.paper.yaml")
    assert cfg.model.preset == "paper"
    for stage in (cfg.train.gesm, cfg.train.instruct):
        assert stage.lr == 2e-5 and stage.epochs == 2.0 and stage.max_steps is None
    assert cfg.train.instruct.tasks is None  # the 8 task types, no GESM rehearsal
    ds = deepspeed_config(
        cfg.train, cfg.train.instruct, total_steps=1000, warmup_steps=10, world_size=8, bf16=True
    )
    assert ds["train_batch_size"] == 32 and ds["optimizer"]["params"]["weight_decay"] == 0.0
    assert cfg.train.warmup_ratio == 0.01 and cfg.train.max_length == 2048
    assert cfg.train.deepspeed.bf16 and cfg.train.deepspeed.gradient_checkpointing
    # everything else is the default of params.yaml
    assert cfg.data == config_lib.Config().data and cfg.eval == config_lib.Config().eval
