"""Kubeflow mode in the Airflow image (``MOMENTOR_AIRFLOW_EXECUTION=kfp``, ``MOMENTOR_KFP_SUBMIT=pod``): the
image has no momentor, so the submission runs as a pod of the momentor image, built here by ``dry_run`` in the
Airflow image's environment (``.venv-airflow``, see test_pod_specs.py). The steps themselves run on Kubeflow:
the retraining DAG has no step pod, only the submission, with the KFP token from its Secret."""

from __future__ import annotations

from test_pod_specs import CLAIM, _main, _pods, airflow_image_python  # noqa: F401 (a fixture)

from airflow_testing import DAGS, run_dag_runner

KFP = {"MOMENTOR_AIRFLOW_EXECUTION": "kfp", "MOMENTOR_KFP_SUBMIT": "pod",
       "MOMENTOR_KFP_ENDPOINT": "http://ml-pipeline.kubeflow.svc.cluster.local:8888"}


def test_the_submission_is_the_retraining_dags_only_pod(airflow_image_python, tmp_path):  # noqa: F811
    found = _pods(airflow_image_python, tmp_path, **KFP, MOMENTOR_WORKSPACE_PVC=CLAIM,
                  MOMENTOR_KFP_TOKEN_SECRET="kfp-token")
    assert found["import_errors"] == {}
    retrain = found["pods"]["momentor_retrain"]
    assert [task for task, pod in retrain.items() if pod] == ["submit_pipeline"]
    main = _main(retrain["submit_pipeline"])
    assert main["command"] == ["momentor"]
    assert main["resources"]["limits"] == {"memory": "1Gi"}  # a light pod: no GPU to submit a pipeline
    (token,) = [e for e in main["env"] if e["name"] == "KFP_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "kfp-token", "key": "token"}
    # the ingest DAG still judges a drop itself before announcing it: its checks are pods on the claim
    ingest = found["pods"]["momentor_ingest"]
    assert [task for task, pod in ingest.items() if pod] == ["check_data_version", "ingest", "features", "validate"]


def test_submitting_from_pods_needs_the_workspace_claim(airflow_home):
    parsed = run_dag_runner(airflow_home, "inspect", str(DAGS), "--without-momentor", env=KFP)
    assert len(parsed["import_errors"]) == 2
    for message in parsed["import_errors"].values():
        assert "MOMENTOR_KFP_SUBMIT=pod needs MOMENTOR_WORKSPACE_PVC" in message
