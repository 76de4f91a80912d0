"""The Dockerfile, checked by parsing it (there is no Docker engine here): the momentor image is built from
the CPU torch wheel, then its own dependencies at the lock's versions, then the package; it runs as the chart's non-root user; no secret can
reach a layer; the Airflow target pins the Kubernetes provider."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex

import pytest
import yaml

from .chart_rendering import CHART, ROOT

SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|ACCESS_KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def instructions() -> list[tuple[str, str, str]]:
    """(stage name, INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out, stage, pending = [], "", ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stage = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else parts[0]
        out.append((stage, keyword, args.strip()))
        pending = ""
    return out


def stage(name: str) -> list[tuple[str, str]]:
    return [(keyword, args) for s, keyword, args in instructions() if s == name]


def lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements" / "lock.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def arg_default(steps: list[tuple[str, str]], name: str) -> str:
    (value,) = [args.split("=", 1)[1] for kw, args in steps if kw == "ARG" and args.startswith(name + "=")]
    return value


def position(steps: list[tuple[str, str]], keyword: str, needle: str) -> int:
    """Index of the first `keyword` instruction containing `needle` (AssertionError if none)."""
    for i, (kw, args) in enumerate(steps):
        if kw == keyword and needle in args:
            return i
    raise AssertionError(f"no {keyword} with {needle!r} in the final stage")


def final_stage() -> list[tuple[str, str]]:
    names = [s for s, keyword, _ in instructions() if keyword == "FROM"]
    return stage(names[-1])


def test_final_stage_is_python_slim_and_runs_momentor():
    steps = final_stage()
    assert steps[0] == ("FROM", "python:3.11-slim AS momentor")
    (entrypoint,) = [args for keyword, args in steps if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["momentor"]  # exec form: momentor is PID 1 and gets the signals


def test_torch_cpu_wheel_first_then_the_lock_then_the_package():
    steps = final_stage()
    assert arg_default(steps, "TORCH_VERSION") == lock_pins()["torch"]
    assert arg_default(steps, "TORCH_INDEX_URL") == "https://download.pytorch.org/whl/cpu"
    copy_lock = position(steps, "COPY", "requirements/lock.txt")
    install = position(steps, "RUN", "pip install -c requirements/lock.txt")
    run = steps[install][1]
    torch_at = run.index('pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"')
    assert copy_lock < install and torch_at < run.index("pip install -c requirements/lock.txt")
    # only the package's own dependencies and the [kfp] extra, read from pyproject.toml: no Airflow, no DVC
    assert "['optional-dependencies']['kfp']" in run and "airflow" not in run and "dvc" not in run
    copy_package = position(steps, "COPY", "momentor ./momentor")
    package = position(steps, "RUN", "pip install --no-deps .")
    assert install < copy_package < package
    assert "pip check" in steps[package][1]


def test_gpu_variant_is_a_build_arg_of_the_same_torch():
    text = (ROOT / "Dockerfile").read_text()
    assert "--build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu" in text


def test_runs_as_the_non_root_user_of_the_chart():
    steps = final_stage()
    users = [(i, args) for i, (keyword, args) in enumerate(steps) if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    last_at, user = users[-1]
    uid, gid = (int(part) for part in user.split(":"))  # numeric, so runAsNonRoot can verify it
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert uid != 0 and (uid, gid) == (
        values["podSecurityContext"]["runAsUser"],
        values["podSecurityContext"]["runAsGroup"],
    )
    assert last_at < position(steps, "ENTRYPOINT", "momentor")
    # the home the chart mounts its cache emptyDir into (/home/mpiuser/.cache) belongs to that user
    useradd = steps[position(steps, "RUN", "useradd")][1]
    assert f"--uid {uid}" in useradd and "--home-dir /home/mpiuser" in useradd


def test_no_secret_in_build_args_env_or_copied_files():
    for stage_name, keyword, args in instructions():
        if keyword in ("ARG", "ENV"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not any(SECRET_WORDS.search(name) for name in names), (stage_name, keyword, args)
        assert keyword != "ADD", "ADD fetches URLs and unpacks archives: COPY only"
        if keyword == "COPY":
            sources = shlex.split(args)[:-1]
            assert not any(SECRET_WORDS.search(source) or source.startswith(".env") for source in sources)


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides; `!` re-includes."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").rstrip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(match(pattern, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def match(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):
        tails = ["/".join(path.split("/")[i:]) for i in range(path.count("/") + 1)]
        return any(fnmatch.fnmatchcase(tail, pattern[3:]) for tail in tails)
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


@pytest.mark.parametrize(
    "path",
    [".env", ".git/config", ".venv/bin/python", "data/raw/video.mp4", "work/manifest/videos.parquet",
     "secrets/kfp-token", "kubeconfig", "tests/conftest.py", "momentor/__pycache__/cli.cpython-311.pyc"],
)
def test_dockerignore_keeps_everything_else_out_of_the_context(path):
    assert dockerignore_excludes(path)


def test_dockerignore_lets_in_what_the_dockerfile_copies():
    copied = [shlex.split(args)[:-1] for _, keyword, args in instructions() if keyword == "COPY"]
    sources = [source for group in copied for source in group]
    assert sources, "nothing copied"
    tracked = [str(p.relative_to(ROOT)) for p in (ROOT / "momentor").rglob("*.py")]
    for path in [*sources, *tracked]:
        assert not dockerignore_excludes(path), path


def test_airflow_target_pins_airflow_and_the_kubernetes_provider():
    steps = stage("airflow")
    version = lock_pins()["apache-airflow"]
    assert steps[0] == ("FROM", f"apache/airflow:{version}-python3.11 AS airflow")
    install = steps[position(steps, "RUN", "pip install")][1]
    assert f'"apache-airflow=={version}"' in install
    assert re.search(r'"apache-airflow-providers-cncf-kubernetes==\d+\.\d+\.\d+"', install)
    # and the provider never enters the momentor image, where it would conflict with kfp
    assert not any("cncf-kubernetes" in args for _, args in final_stage())


def test_mpi_variant_serves_sshd_where_the_deepspeed_runtime_expects_it():
    steps = final_stage()
    assert arg_default(steps, "MPI") == "false"
    sshd = steps[position(steps, "RUN", "/home/mpiuser/.sshd_config")][1]
    for line in ("'Port 2222'", "'HostKey /home/mpiuser/.ssh/id_rsa'", "'PidFile /tmp/sshd.pid'"):
        assert line in sshd


def test_the_momentor_image_requirements_resolve_from_the_lock_without_the_other_orchestrators():
    """What the image's pip install reads: every requirement pinned by the lock, none of Airflow or DVC."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["kfp"]]
    pins = {name.lower().replace("_", "-"): version for name, version in lock_pins().items()}
    for requirement in wanted:
        name = requirement.name.lower().replace("_", "-")
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        assert name in pins, f"{requirement} is not pinned in requirements/lock.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (str(requirement), pins[name])
    names = {r.name.lower() for r in wanted}
    assert not names & {"apache-airflow", "dvc"}, "the momentor image would install another orchestrator"
    extras = project["optional-dependencies"]
    assert {"dvc", "kfp", "airflow"} <= set(extras) and extras["all"] == ["momentor[dvc,kfp,airflow]"]
