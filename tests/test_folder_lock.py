"""One writer per output folder: a second run on a folder in use fails at once and names the holder; a killed
holder leaves no stale lock."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from momentor import cli
from momentor.folder_lock import Busy, hold

ROOT = Path(__file__).resolve().parents[1]
HOLDER = "import sys, time; from momentor.folder_lock import hold\nwith hold(sys.argv[1], 'ingest'):\n" \
         "    print('held', flush=True); time.sleep(60)"


def _holder(folder: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_on_a_busy_folder_fails_naming_the_holder_and_a_killed_holder_frees_it(tmp_path, monkeypatch,
                                                                                          capsys):
    monkeypatch.chdir(ROOT)
    work = tmp_path / "work"
    holder = _holder(work / "manifest")
    try:
        code = cli.main(["ingest", "--params", "params.yaml", "-S", f"paths.work={work}",
                         "-S", f"paths.raw={tmp_path / 'nowhere'}"])
        err = capsys.readouterr().err
        assert code == 1 and f"held by PID {holder.pid} (momentor ingest" in err and "busy" in err
        code = cli.main(["train", "--stage", "gesm", "--params", "params.yaml", "-S", f"paths.work={work}",
                         "--out", str(work / "manifest")])
        assert code == 1 and f"PID {holder.pid}" in capsys.readouterr().err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with hold(work / "manifest", "ingest"):  # the kernel freed the killed holder's lock
        with pytest.raises(Busy, match=f"PID {os.getpid()}"):
            with hold(work / "manifest", "engine"):
                pass
    assert (work / ".manifest.lock").read_text() == ""  # released: no holder recorded
    assert not (work / "manifest").exists()  # the lock sits beside the folder, which a commit may swap


def test_a_promotion_waits_for_no_one_while_another_holds_the_champion(tmp_path, monkeypatch, capsys):
    from momentor import config as config_lib
    from momentor.model import checkpoint
    from momentor.model.builders import build_model

    monkeypatch.chdir(ROOT)
    cfg = config_lib.from_dict({"model": {"preset": "tiny"}})
    checkpoint.save(build_model(cfg.model, seed=0, with_encoder=False), cfg, tmp_path / "ckpt")
    (tmp_path / "m.json").write_text('{"grounding": {"R1@0.5": 1.0}}')
    argv = ["promote", "--params", "params.yaml", "--checkpoint", str(tmp_path / "ckpt"), "--metrics",
            str(tmp_path / "m.json"), "--champion", str(tmp_path / "champion"), "--force"]
    holder = _holder(tmp_path / "champion")
    try:
        assert cli.main(argv) == 1 and f"PID {holder.pid}" in capsys.readouterr().err
        assert not (tmp_path / "champion").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert cli.main(argv) == 0 and (tmp_path / "champion").is_symlink()
