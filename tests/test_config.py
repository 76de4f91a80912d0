import ast
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from momentor import config

ROOT = Path(__file__).resolve().parents[1]


def _leaves(raw: dict, prefix: str = "") -> dict:
    """``{"a.b": value}`` for every key path of ``raw`` that is not itself a mapping of keys."""
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict) and value and key not in ("splits", "task_repeats", "floors"):
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("params", ["params.yaml", "params.paper.yaml"])
def test_params_files_are_valid_against_the_schema(params):
    # every key known, every value of its type and in its bounds: both by the models and by the printed schema
    raw = yaml.safe_load((ROOT / params).read_text())
    config.from_dict(raw)
    jsonschema.validate(raw, config.json_schema())


def test_the_package_defaults_are_params_yamls_values_where_it_states_them():
    # params.yaml holds what a user sets; where it states a key, it states the default (the default run)
    stated = _leaves(yaml.safe_load((ROOT / "params.yaml").read_text()))
    defaults = _leaves(config.to_dict(config.Config()))
    assert set(stated) <= set(defaults)
    assert {key: defaults[key] for key in stated} == stated
    assert config.load(ROOT / "params.yaml") == config.Config()


def test_the_schema_documents_every_key_with_its_default():
    schema = config.json_schema()
    sections = [schema, *schema["$defs"].values()]
    undocumented = [name for s in sections for name, p in s["properties"].items() if not p.get("description")]
    assert undocumented == []
    assert all(s["additionalProperties"] is False for s in sections)
    stage = schema["$defs"]["TrainConfig"]["properties"]
    assert stage["gesm"]["default"]["epochs"] == 5.0 and stage["instruct"]["default"]["epochs"] == 1.6
    assert schema["$defs"]["StageConfig"]["properties"]["epochs"]["exclusiveMinimum"] == 0


def test_config_schema_command_prints_the_json_schema(capsys):
    from momentor.cli import main

    assert main(["config", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(config.json_schema()))


def test_the_cron_is_defined_once_and_the_dag_and_chart_carry_the_same():
    # the Airflow image has no momentor to import and a DAG file does no I/O at parse time, and the chart's
    # values are plain YAML: both state the cron, and this test fails when they differ from the config's
    cron = config.Config().pipeline.schedule
    dag = ast.parse((ROOT / "dags" / "momentor_retrain.py").read_text())
    (schedule,) = [node.value.value for node in dag.body if isinstance(node, ast.Assign)
                   and [getattr(t, "id", None) for t in node.targets] == ["SCHEDULE"]]
    assert schedule == cron, "dags/momentor_retrain.py SCHEDULE differs from the config's pipeline.schedule"
    chart = yaml.safe_load((ROOT / "charts" / "momentor" / "values.yaml").read_text())
    assert chart["params"]["pipeline"]["schedule"] == cron, "charts/momentor/values.yaml differs"


def test_override_sets_nested_value_with_yaml_types():
    cfg = config.from_dict({}, ["model.preset=tiny", "train.gesm.max_steps=3", "eval.iou_round=2"])
    assert cfg.model.preset == "tiny"
    assert cfg.train.gesm.max_steps == 3
    assert cfg.eval.iou_round == 2


def test_exponent_text_is_a_number_and_an_int_is_a_float():
    cfg = config.from_dict({"train": {"gesm": {"lr": "2e-5", "epochs": 3}}})
    assert cfg.train.gesm.lr == 2e-5
    assert cfg.train.gesm.epochs == 3.0 and isinstance(cfg.train.gesm.epochs, float)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("model.presett=tiny", "unknown config key model.presett; allowed keys here: dtype, encoder_path"),
        ("data.sources=[{format: sample, pathh: x}]",
         "unknown config key data.sources[0].pathh; allowed keys here: format, path, split, videos"),
        ("model.preset=huge", "model.preset: 'huge' is not allowed; use one of 'tiny', 'cpu' or 'paper'"),
        ("train.micro_batch_size=two", "train.micro_batch_size: expected a whole number"),
        ("train.micro_batch_size=0", "train.micro_batch_size: 0 is too small; use a value of at least 1"),
        ("train.instruct.task_repeats={gesm: 0}", "train.instruct.task_repeats.gesm: 0 is too small"),
        ("model.ntp=1", "model.ntp: expected true or false"),
        ("train.deepspeed.zero_stage=true", "train.deepspeed.zero_stage: True is not allowed; use one of 0"),
        ("seed=null", "seed: may not be null"),
        ("train=5", "train: expected a mapping of TrainConfig keys, got 5"),
        ("gate.beat_random=[recall]", "gate.beat_random[0]: 'recall' is not allowed"),
        ("gate.confidence=1", "gate.confidence: 1 is out of range; use a value in (0, 1)"),
        ("train.gesm.epochs=0", "train.gesm.epochs: 0 is out of range; use a value in (0, 1000]"),
        ("data.sample.splits={train: 0.5, val: 0.1, test: 0.1}", "must sum to 1"),
        ("model.lora_rank=4", "model.lora_targets: empty"),
        ("nokey", "not of the form key.path=value"),
        ("pipeline.schedule=@daily", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key(override, fragment):
    extra = ["model.lora_targets=[]"] if override.startswith("model.lora_rank") else []
    with pytest.raises(config.ConfigError) as err:
        config.from_dict({}, [override, *extra])
    assert fragment in str(err.value)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(config.ConfigError, match="--params"):
        config.load(tmp_path / "nope.yaml")


def test_a_partial_section_keeps_its_own_defaults_not_its_class_defaults():
    # train.gesm and train.instruct are both StageConfig with different epochs and tasks
    cfg = config.from_dict({}, ["train.gesm.max_steps=3", "train.instruct.lr=0.5"])
    defaults = config.Config()
    assert cfg.train.gesm == defaults.train.gesm.model_copy(update={"max_steps": 3})
    assert cfg.train.instruct == defaults.train.instruct.model_copy(update={"lr": 0.5})
    assert cfg.train.gesm.epochs != cfg.train.instruct.epochs  # the case that needs it
    assert cfg.train.align.enabled is False
    # the same when a section is built directly, and a whole mapping value (splits) is replaced, not merged
    assert config.TrainConfig.model_validate({"gesm": {"max_steps": 3}}).gesm == cfg.train.gesm
    splits = config.from_dict({}, ["data.sample.splits={train: 0.5, test: 0.5}"]).data.sample.splits
    assert splits == {"train": 0.5, "test": 0.5}


def test_defaults_are_not_shared_between_configs():
    first, second = config.Config(), config.Config()
    first.model.lora_targets.append("gate_proj")
    first.train.gesm.epochs = 9.0
    assert second.model.lora_targets == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert second.train.gesm.epochs == 5.0 and config.Config().train.gesm.epochs == 5.0


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_non_finite_number_is_refused_by_name(value):
    with pytest.raises(config.ConfigError, match=r"train\.gesm\.lr: .* not a finite number"):
        config.from_dict({}, [f"train.gesm.lr={value}"])
    with pytest.raises(config.ConfigError, match=r"gate\.floors\.grounding: .* not a finite number"):
        config.from_dict({}, [f"gate.floors={{grounding: {value}}}"])


def test_a_params_file_with_a_syntax_error_or_a_duplicate_key_names_the_file_and_line(tmp_path):
    broken = tmp_path / "params.yaml"
    broken.write_text("train:\n  checkpoint_every: 5\n  seed: [1, 2\n")
    with pytest.raises(config.ConfigError, match=r"params.yaml: not valid YAML at line \d+"):
        config.load(broken)
    broken.write_text("train:\n  checkpoint_every: 5\n  seed: 1\n  checkpoint_every: 7\n")
    duplicate = r"params.yaml: key 'checkpoint_every' appears twice .*lines 2 and 4"
    with pytest.raises(config.ConfigError, match=duplicate):
        config.load(broken)


@pytest.mark.parametrize("override, key", [
    ("train.checkpoint_every=0", "train.checkpoint_every"),
    ("train.gesm.epochs=0", "train.gesm.epochs"),
    ("train.instruct.max_steps=0", "train.instruct.max_steps"),
    ("eval.iou_thresholds=[0.5, 1.5]", "eval.iou_thresholds[1]"),
    ("eval.iou_thresholds=[]", "eval.iou_thresholds"),
    ("data.sample.splits={train: 1.5, val: -0.25, test: -0.25}", "data.sample.splits.train"),
    ("gate.resamples=99", "gate.resamples"),
    ("train.warmup_ratio=1", "train.warmup_ratio"),
    ("gate.tolerance=-0.5", "gate.tolerance"),
])
def test_out_of_range_values_name_their_key(override, key):
    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        config.load(None, [override])


def test_every_problem_is_reported_one_per_line():
    with pytest.raises(config.ConfigError) as err:
        config.from_dict({}, ["train.micro_batch_size=0", "model.presett=tiny"])
    assert len(str(err.value).splitlines()) == 2
