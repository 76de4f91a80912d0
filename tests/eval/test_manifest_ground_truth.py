"""Evaluation reads what `momentor ingest` writes: the manifest gives the same ids and numbers as the native
benchmark files (the contract between the data part and evaluation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_files import write_json, write_jsonl

from momentor import config
from momentor.cli import main
from momentor.eval import action_segmentation, dense_captioning, grounding, qvhighlights, tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest(fixtures_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("manifest") / "manifest"
    sources = (
        f"data.sources=[{{format: charades_sta, path: {fixtures_dir}/charades_sta}}, "
        f"{{format: qvhighlights, path: {fixtures_dir}/qvhighlights}}, "
        f"{{format: youcook2, path: {fixtures_dir}/youcook2}}, "
        f"{{format: breakfast, path: {fixtures_dir}/breakfast}}]"
    )
    assert main(["ingest", "--params", str(ROOT / "params.yaml"), "-S", sources, "--out", str(out)]) == 0
    return out


def test_grounding_ids_match_the_native_reader(manifest, fixtures_dir, tmp_path):
    native = grounding.load_ground_truth(fixtures_dir / "charades_sta" / "charades_sta_test.txt")
    pred = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"query_id": q.query_id, "video_id": q.video_id, "pred_windows": [[*q.windows[0], 1.0]]}
            for q in native
        ],
    )
    result = tasks.evaluate("grounding", manifest, pred, config.Config(), split="test", source="charades_sta")
    assert result["num_queries"] == 3720 and result["R1@0.7"] == 100.0


def test_qvhighlights_from_the_manifest_scores_like_the_release(manifest, fixtures_dir, tmp_path):
    release = fixtures_dir / "qvhighlights" / "highlight_val_release.jsonl"
    preds = [
        {
            "qid": r["qid"],
            "pred_relevant_windows": [[s, e, 0.5] for s, e in r["relevant_windows"]][::-1],
            "pred_saliency_scores": qvhighlights.clip_scores(r)[:, 0].tolist(),
        }
        for r in qvhighlights.load_ground_truth(release)
    ]
    pred = write_json(tmp_path / "p.json", preds)  # one JSON array instead of JSON Lines is accepted too
    assert qvhighlights.evaluate_files(manifest, pred, split="val") == qvhighlights.evaluate_files(
        release, pred
    )


def test_segmentation_and_captioning_ground_truth_agree(manifest, fixtures_dir):
    native = action_segmentation.load_ground_truth(fixtures_dir / "breakfast" / "groundTruth")
    assert action_segmentation.load_ground_truth(manifest, split="test") == native
    youcook = dense_captioning.load_ground_truth(fixtures_dir / "youcook2" / "val_gt.json")
    from_manifest = dense_captioning.load_ground_truth(manifest, split="val", source="youcook2")
    assert set(from_manifest) == set(youcook)
    video = "xHr8X2Wpmno"
    assert from_manifest[video].sentences == youcook[video].sentences
    assert from_manifest[video].timestamps.tolist() == youcook[video].timestamps.tolist()
