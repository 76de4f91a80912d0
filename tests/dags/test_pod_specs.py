"""Pod mode (``MOMENTOR_AIRFLOW_EXECUTION=kubernetes``): the pods the KubernetesPodOperators would create, as
``dry_run()`` builds them with no cluster, in the Airflow image's environment (Airflow 3.3.2 + the cncf.kubernetes
provider 10.25.0, no momentor or kfp: ``scripts/airflow_pods_venv.sh`` builds it once into ``.venv-airflow``,
~25 s here, then a stamp skips it). Each step's pod has its resources from the step table (GPU steps a GPU), the
workspace claim at /workspace, the params ConfigMap, and runs as non-root; without the claim no DAG imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from airflow_testing import DAGS, ROOT, airflow_env

STEPS = ast.literal_eval((DAGS / "momentor_step_table.py").read_text().split("STEPS = ", 1)[1])
DUMPER = Path(__file__).with_name("airflow_pods_env.py")
CLAIM, CONFIGMAP, GPU = "momentor-test-workspace", "momentor-test-params", "nvidia.com/gpu"
POD_ENV = {"MOMENTOR_AIRFLOW_EXECUTION": "kubernetes", "MOMENTOR_PARAMS_CONFIGMAP": CONFIGMAP}


@pytest.fixture(scope="session")
def airflow_image_python() -> str:
    built = subprocess.run(["bash", str(ROOT / "scripts" / "airflow_pods_venv.sh")], cwd=ROOT, text=True,
                           capture_output=True, timeout=900)
    if built.returncode:
        pytest.fail(f"scripts/airflow_pods_venv.sh failed ({built.returncode}):\n{built.stderr[-6000:]}")
    return built.stdout.strip().splitlines()[-1]


def _pods(python: str, home: Path, **env: str) -> dict:
    done = subprocess.run([python, str(DUMPER), str(DAGS)], env={**airflow_env(home), **POD_ENV, **env}, cwd=ROOT,
                          text=True, capture_output=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        pytest.fail(f"airflow_pods_env.py failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def pods(airflow_image_python, tmp_path_factory) -> dict:
    found = _pods(airflow_image_python, tmp_path_factory.mktemp("airflow-pods"), MOMENTOR_WORKSPACE_PVC=CLAIM)
    assert found["import_errors"] == {}
    assert sorted(found["pods"]) == ["momentor_ingest", "momentor_retrain"]
    return found["pods"]


def _main(pod: dict) -> dict:
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == "base"]  # the provider's name for it
    return main


def test_every_step_runs_in_a_pod_sized_by_the_step_table(pods):
    retrain = pods["momentor_retrain"]
    assert [t for t in retrain if t in {row["name"] for row in STEPS}] == [row["name"] for row in STEPS]
    checked = 0
    # a sharded step's pods: one per shard (mapped) with the step's resources, and the merge without a GPU
    shards = [{**row, "name": f"{row['name']}_shard"} for row in STEPS if row.get("sharded")]
    merges = {row["name"] for row in STEPS if row.get("sharded")}
    assert merges == {"features", "engine"}
    for dag_id, tasks in pods.items():
        for row in [*STEPS, *shards]:
            if row["name"] not in tasks:
                continue
            assert tasks[row["name"]] is not None, f"{dag_id}.{row['name']} is not a KubernetesPodOperator"
            merge = dag_id == "momentor_retrain" and row["name"] in merges  # the ingestion DAG runs features whole
            want = {**row["resources"], "gpu": False} if merge else row["resources"]
            resources = _main(tasks[row["name"]])["resources"]
            where = f"{dag_id}.{row['name']} ({want})"
            assert resources["requests"] == {"cpu": want["cpu"], "memory": want["memory"]}, where
            assert resources["limits"]["memory"] == want["memory"], where  # over it, the pod is OOM-killed
            assert resources["limits"].get("cpu") in (None, want["cpu"]), where
            assert (GPU in resources["limits"]) == want["gpu"], where
            if want["gpu"]:
                assert int(resources["limits"][GPU]) >= 1, where
            checked += 1
    assert checked == len(STEPS) + len(shards) + 3  # the retraining DAG's steps, shards, the ingestion's 3 checks
    gpu_steps = sorted(row["name"] for row in STEPS if row["resources"]["gpu"])
    # extraction, training, prediction (of the candidate, and of the champion on a changed split)
    assert gpu_steps == ["features", "predict", "rescore_champion", "train_gesm", "train_instruct"]
    assert _main(retrain["train_gesm"])["resources"]["requests"] != _main(retrain["gate"])["resources"]["requests"]


def test_every_pod_mounts_the_workspace_claim_and_the_params_and_runs_as_non_root(pods):
    every = [(f"{d}.{t}", pod) for d, tasks in pods.items() for t, pod in tasks.items() if pod is not None]
    assert len(every) >= len(STEPS) + 3
    for where, pod in every:
        spec, main = pod["spec"], _main(pod)
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert volumes[mounts["/workspace"]]["persistentVolumeClaim"]["claimName"] == CLAIM, where
        params = volumes[mounts["/etc/momentor"]]
        assert params["configMap"]["name"] == CONFIGMAP, where
        assert main["command"] == ["momentor"], where
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security.get("runAsUser", 1000) != 0, where
        assert main["securityContext"]["allowPrivilegeEscalation"] is False, where
        # the momentor chart's locked contexts: no privilege, the runtime's seccomp profile, a read-only root
        assert main["securityContext"]["privileged"] is False and security["seccompProfile"] == {
            "type": "RuntimeDefault"}, where
        assert main["securityContext"]["readOnlyRootFilesystem"] is True, where
        assert spec["restartPolicy"] == "Never", where  # Airflow's retries re-run a failed step, not the kubelet


def test_pod_mode_without_the_workspace_claim_fails_to_import_naming_it(airflow_image_python, tmp_path):
    found = _pods(airflow_image_python, tmp_path)
    assert sorted(found["import_errors"]) == ["momentor_ingest.py", "momentor_retrain.py"]
    for message in found["import_errors"].values():
        assert "MOMENTOR_WORKSPACE_PVC" in message
    assert found["pods"] == {}
