"""Run a ``momentor`` verb on pipeline artifacts laid out as a project folder.

Every verb reads and writes under ``paths.raw`` (default ``data/``) and ``paths.work`` (default ``work/``,
with fixed sub-folders: ``manifest/``, ``features/``, ``engine/``, ``checkpoints/`` ...). An orchestrator
hands a step its inputs and outputs as separate artifact folders instead (KFP: one local path per
artifact). :func:`run_verb` builds a scratch project folder whose ``data`` and ``work/<name>`` entries are
symlinks to the input artifacts, runs the verb there with its default paths, moves what it wrote into the
output artifacts, and removes the scratch folder.
The verbs stay the only place where step logic lives; this is plumbing only.

- ``raw``: the folder that plays ``paths.raw``; relative ``data.sources`` paths such as ``data/sample``
  resolve inside it (the scratch folder is the working directory).
- ``inputs``: ``{name: folder}`` read-only inputs, linked as ``work/<name>``.
- ``outputs``: ``{name: folder}``: what the verb wrote to ``work/<name>`` is moved into the artifact
  afterwards (not linked: verbs replace whole folders atomically by rename, which would replace a link).
- ``updates``: ``{name: (input, output)}`` for a verb that changes a folder in place (the engine adds its
  rows to the manifest): a copy of the input is ``work/<name>``, moved to the output afterwards. An input
  artifact is never changed (KFP caches and other consumers rely on that).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


class StepFailed(RuntimeError):
    """A verb run by an orchestrator step ended with a non-zero exit code."""


def _link(target: str | Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(Path(target).resolve(), link, target_is_directory=Path(target).is_dir())


@contextlib.contextmanager
def project_folder(raw: str | None = None, inputs: dict | None = None, outputs: dict | None = None,
                   updates: dict | None = None):
    """A scratch project folder laid out over the artifacts (see the module docstring); yields its path.

    The outputs are filled when the ``with`` block ends without an error.
    """
    with tempfile.TemporaryDirectory(prefix="momentor-step-") as scratch:
        root = Path(scratch)
        (root / "work").mkdir()
        if raw is not None:
            Path(raw).mkdir(parents=True, exist_ok=True)  # sample-data writes into an empty raw artifact
            _link(raw, root / "data")
        for name, folder in (inputs or {}).items():
            _link(folder, root / "work" / name)
        for name, (source, _) in (updates or {}).items():
            shutil.copytree(source, root / "work" / name, symlinks=False)
        yield root
        results = {**(outputs or {}), **{name: folder for name, (_, folder) in (updates or {}).items()}}
        for name, folder in results.items():
            _move_into(root / "work" / name, Path(folder))


def _move_into(written: Path, artifact: Path) -> None:
    """Move the verb's output folder (or file) into the artifact path, replacing what is there."""
    if not written.exists():
        raise StepFailed(f"the step wrote nothing to {written.name}/; expected its output there")
    if artifact.exists():
        shutil.rmtree(artifact) if artifact.is_dir() else artifact.unlink()
    artifact.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(written), str(artifact))


def run_verb(argv: list[str], params: str, overrides: list[str] | None = None, raw: str | None = None,
             inputs: dict | None = None, outputs: dict | None = None, updates: dict | None = None) -> None:
    """Run ``momentor <argv> --params <params>`` in a scratch project folder over the artifacts.

    Relative paths in ``argv`` are relative to that folder (``work/manifest``, ``data/sample``).

    Raises:
        StepFailed: the verb exited non-zero (its own message is already on stderr).
    """
    from momentor import cli

    params = str(Path(params).resolve())
    before = os.getcwd()
    with project_folder(raw, inputs, outputs, updates) as root:
        paths = ["-S", f"paths.raw={root / 'data'}", "-S", f"paths.work={root / 'work'}"]
        extra = [a for o in overrides or [] for a in ("-S", o)]
        os.chdir(root)
        try:
            code = cli.main([*argv, "--params", params, *extra, *paths])
        finally:
            os.chdir(before)
        if code:
            raise StepFailed(f"momentor {' '.join(argv)} exited with {code}; its message is above")
