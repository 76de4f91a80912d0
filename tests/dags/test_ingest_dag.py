"""``dag.test()`` of the ingestion DAG on a small real corpus (tiny encoder): a good drop is ingested, its
features extracted and validated, and the raw-data Asset is announced with its data version; a drop whose
video is corrupt keeps going (ingestion quarantines the video with its reason) and announces the rest."""

from __future__ import annotations

import json

from airflow_testing import DAGS, run_dag_runner

from momentor.config import SampleCorpusConfig
from momentor.data.sample_corpus import build_sample_corpus


def _drop(root):
    build_sample_corpus(SampleCorpusConfig(seed=0, num_videos=3, size=64, fps=8), root / "data" / "sample")
    return {"raw_data_uri": str(root / "data"), "overrides": ["model.preset=tiny", "data.feature_bf16=false"]}


def _run(home, root, conf: dict) -> tuple[dict, object]:
    """dag.test of the ingest DAG with its workspace under ``root``; the result and the run's work folder."""
    result = run_dag_runner(home, "test", str(DAGS), "momentor_ingest", json.dumps(conf), timeout=600,
                            env={"MOMENTOR_WORKSPACE": str(root / "workspace")})
    (run,) = (root / "workspace" / "ingest").iterdir()
    return result, run / "work"


def test_a_good_drop_is_ingested_validated_and_announced(airflow_home, tmp_path):
    result, work = _run(airflow_home, tmp_path, _drop(tmp_path))
    assert result["state"] == "success", result["tasks"]
    assert set(result["tasks"].values()) == {"success"}
    version = result["xcom"]["check_data_version"]
    # the event carries where the data is and its content version: what the retraining will train on
    assert result["xcom"]["announce_raw_data"] == version and len(version["version"]) >= 8
    assert version["raw"] == str((tmp_path / "data").resolve()) and version["source"] == "content"
    assert len(list((work / "features").glob("*/sample_00?.safetensors"))) == 3


def test_a_corrupt_video_is_quarantined_and_the_rest_announced(airflow_home, tmp_path):
    conf = _drop(tmp_path)
    bad = sorted((tmp_path / "data" / "sample").rglob("*.mp4"))[1]
    bad.write_bytes(bad.read_bytes()[:300])  # truncated in transfer
    result, work = _run(airflow_home, tmp_path, conf)
    assert result["tasks"]["announce_raw_data"] == "success", result["tasks"]
    quarantine = [json.loads(line) for line in (work / "manifest" / "quarantine.jsonl").open()]
    assert [(q["item"], q["stage"]) for q in quarantine] == [(bad.stem, "ingest")]
    assert "not a readable video" in quarantine[0]["reason"] and quarantine[0]["hint"]
    assert len(list((work / "features").glob("*/sample_00?.safetensors"))) == 2
