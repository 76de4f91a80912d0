import dataclasses
from pathlib import Path

import pytest
import yaml

from momentor import config

ROOT = Path(__file__).resolve().parents[1]


def test_params_yaml_is_exactly_the_defaults():
    # params.yaml holds every default once; the dataclasses must not drift from it
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert raw == config.to_dict(config.Config())
    assert config.load(ROOT / "params.yaml") == config.Config()


def test_override_sets_nested_value_with_yaml_types():
    cfg = config.from_dict({}, ["model.preset=tiny", "train.gesm.max_steps=3", "eval.iou_round=2"])
    assert cfg.model.preset == "tiny"
    assert cfg.train.gesm.max_steps == 3
    assert cfg.eval.iou_round == 2


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("model.presett=tiny", "unknown config key model.presett"),
        ("model.preset=huge", "model.preset: 'huge' is not allowed"),
        ("train.micro_batch_size=two", "train.micro_batch_size: expected a whole number"),
        ("train.micro_batch_size=0", "train.micro_batch_size: 0 is too small"),
        ("train.instruct.task_repeats={gesm: 0}", "train.instruct.task_repeats.gesm: 0 is too small"),
        ("model.ntp=1", "model.ntp: expected true or false"),
        ("data.sample.splits={train: 0.5, val: 0.1, test: 0.1}", "must sum to 1"),
        ("nokey", "not of the form key.path=value"),
        ("pipeline.schedule=@daily", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key(override, fragment):
    with pytest.raises(config.ConfigError, match=None) as err:
        config.from_dict({}, [override])
    assert fragment in str(err.value)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(config.ConfigError, match="--params"):
        config.load(tmp_path / "nope.yaml")


def test_a_partial_section_keeps_its_own_defaults_not_its_class_defaults():
    # train.gesm and train.instruct are both StageConfig with different epochs and tasks
    cfg = config.from_dict({}, ["train.gesm.max_steps=3", "train.instruct.lr=0.5"])
    defaults = config.Config()
    assert cfg.train.gesm == dataclasses.replace(defaults.train.gesm, max_steps=3)
    assert cfg.train.instruct == dataclasses.replace(defaults.train.instruct, lr=0.5)
    assert cfg.train.gesm.epochs != cfg.train.instruct.epochs  # the case that needs it
    assert cfg.train.align.enabled is False


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_non_finite_number_is_refused_by_name(value):
    with pytest.raises(config.ConfigError, match=r"train\.gesm\.lr: .* not a finite number"):
        config.from_dict({}, [f"train.gesm.lr={value}"])


def test_a_params_file_with_a_syntax_error_or_a_duplicate_key_names_the_file_and_line(tmp_path):
    from momentor import config

    broken = tmp_path / "params.yaml"
    broken.write_text("train:\n  checkpoint_every: 5\n  seed: [1, 2\n")
    with pytest.raises(config.ConfigError, match=r"params.yaml: not valid YAML at line \d+"):
        config.load(broken)
    broken.write_text("train:\n  checkpoint_every: 5\n  seed: 1\n  checkpoint_every: 7\n")
    with pytest.raises(config.ConfigError, match=r"params.yaml: key 'checkpoint_every' appears twice .*lines 2 and 4"):
        config.load(broken)


@pytest.mark.parametrize("override, key", [
    ("train.checkpoint_every=0", "train.checkpoint_every"),
    ("train.gesm.epochs=0", "train.gesm.epochs"),
    ("train.instruct.max_steps=0", "train.instruct.max_steps"),
    ("eval.iou_thresholds=[0.5, 1.5]", "eval.iou_thresholds"),
    ("data.sample.splits={train: 1.5, val: -0.25, test: -0.25}", "data.sample.splits"),
])
def test_out_of_range_values_name_their_key(override, key):
    from momentor import config

    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.")):
        config.load(None, [override])
