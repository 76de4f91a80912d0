import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from momentor import cli

ROOT = Path(__file__).resolve().parents[1]


def test_config_verb_prints_resolved_overrides(capsys):
    assert cli.main(["config", "--params", str(ROOT / "params.yaml"), "-S", "model.preset=tiny"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["preset"] == "tiny"
    assert printed["train"]["micro_batch_size"] == yaml.safe_load((ROOT / "params.yaml").read_text())["train"][
        "micro_batch_size"]


def test_bad_override_exits_2_and_names_the_key(capsys):
    assert cli.main(["config", "--params", str(ROOT / "params.yaml"), "-S", "model.prest=tiny"]) == 2
    assert "unknown config key model.prest" in capsys.readouterr().err


def test_help_lists_the_pipeline_verbs_without_heavy_imports():
    code = (
        "import sys; from momentor import cli; cli.build_parser(); "
        "print(','.join(m for m in ('torch', 'transformers', 'deepspeed', 'kfp', 'airflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the CLI pulled in heavy modules: {out.stdout}"
    helptext = subprocess.run([sys.executable, "-m", "momentor.cli", "--help"], capture_output=True, text=True).stdout
    for verb in ("config", "sample-data", "ingest", "features"):
        assert verb in helptext


def test_every_verb_module_exists_and_a_broken_one_fails_loudly(monkeypatch):
    import importlib.util

    for name in cli.COMMAND_MODULES:
        assert importlib.util.find_spec(name) is not None, f"{name} is listed but does not exist"
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "momentor.no_such_verbs"))
    with pytest.raises(ModuleNotFoundError, match="momentor.no_such_verbs"):
        cli.build_parser()


def test_a_verb_whose_orchestrator_sdk_is_missing_says_which_extra_to_install(monkeypatch, capsys):
    import sys

    from momentor import cli

    monkeypatch.setitem(sys.modules, "kfp", None)  # what an installation without the [kfp] extra has
    code = cli.main(["pipeline", "compile", "--out", "/nonexistent/x.yaml"])
    assert code == 2 and "pip install 'momentor[kfp]'" in capsys.readouterr().err
