"""QVHighlights MR/HL: hand-worked examples, the reference's output layout, and the real val annotations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eval_files import write_jsonl

from momentor.eval import qvhighlights
from momentor.eval.jsonio import EvalInputError

# Two queries worked by hand (see the comments in the tests for the arithmetic).
GT = [
    {
        "qid": 1,
        "duration": 20,
        "relevant_windows": [[0, 10]],
        "relevant_clip_ids": [0, 1, 2],
        "saliency_scores": [[4, 2, 0], [3, 3, 1], [1, 4, 2]],
    },
    {
        "qid": 2,
        "duration": 30,
        "relevant_windows": [[0, 4], [10, 20]],
        "relevant_clip_ids": [5, 6],
        "saliency_scores": [[2, 2, 2], [4, 4, 4]],
    },
]
PRED = [
    {
        "qid": 1,
        "pred_relevant_windows": [[0, 10, 0.9], [10, 20, 0.8]],
        "pred_saliency_scores": [0.1, 0.9, 0.5, 0, 0, 0, 0, 0, 0, 0],
    },
    # listed first is [0, 5] (the R1 window); by score [10, 20] ranks first for mAP
    {
        "qid": 2,
        "pred_relevant_windows": [[0, 5, 0.5], [10, 20, 0.9], [2, 20, 0.1]],
        "pred_saliency_scores": [0, 0, 0, 0, 0, 0.5, 1.0, 0, 0, 0, 0, 0],
    },  # 12 of 15 clips: zero-padded
]


def _records(data):
    return [dict(r, qid=str(r["qid"])) for r in json.loads(json.dumps(data))]


@pytest.fixture
def result():
    return qvhighlights.evaluate(_records(PRED), _records(GT))


def test_moment_retrieval_map_worked_by_hand(result):
    # qid 1: [0,10] hits at every tIoU, [10,20] is a false positive after it -> AP 1.
    # qid 2 in score order: [10,20] hits gt 2 (IoU 1); [0,5] hits gt 1 with IoU 4/5 for tIoU <= 0.8;
    # [2,20] overlaps the taken gt 2 (IoU 10/18) and gt 1 (0.1) -> false positive.
    # tIoU <= 0.8: precision 1, 1, 2/3 at recall .5, 1, 1 -> AP 1; tIoU >= 0.85: AP = 0.5 * 1 = 0.5.
    mr_map = result["full"]["MR-mAP"]
    assert [mr_map[t] for t in ("0.5", "0.6", "0.8")] == [100.0, 100.0, 100.0]
    assert [mr_map[t] for t in ("0.85", "0.9", "0.95")] == [75.0, 75.0, 75.0]
    assert mr_map["average"] == 92.5  # (7 * 1 + 3 * 0.75) / 10


def test_moment_retrieval_r1_uses_the_first_listed_window(result):
    # qid 1 top-1 IoU 1; qid 2's top-1 is the first listed, [0,5]: IoU 0.8 with [0,4]
    # (although [10,20] scores higher)
    r1 = result["full"]["MR-R1"]
    assert r1["0.5"] == 100.0 and r1["0.8"] == 100.0
    assert r1["0.85"] == 50.0 and r1["0.95"] == 50.0


def test_length_ranges_keep_only_windows_of_that_length(result):
    # every ground-truth window is at most 10 s long: short == full, middle and long have no query
    assert result["short"] == result["full"]
    assert result["middle"] == {"MR-mAP": None, "MR-R1": None}
    assert result["brief"]["MR-long-mAP"] is None


def test_highlight_detection_worked_by_hand(result):
    # HIT@1: qid 1's top clip 1 is rated [3, 3, 1] (a hit at Fair and Good, not VeryGood);
    # qid 2's clip 6 is rated [4, 4, 4]
    assert result["HL-min-Fair"]["HL-Hit1"] == 100.0
    assert result["HL-min-VeryGood"]["HL-Hit1"] == 50.0
    # VeryGood AP per (query, annotator): qid 1 ranks clips 1, 2, 0: annotator 0's only positive (clip 0) is
    # third -> 1/3, annotator 1's (clip 2) second -> 1/2, annotator 2 has none -> 0; qid 2: 1, 1, 1.
    assert result["HL-min-VeryGood"]["HL-mAP"] == round(100 * (1 / 3 + 1 / 2 + 0 + 3) / 6, 2)
    # Good: qid 1 annotator 0 has clips 0 and 1 (ranks 3 and 1) -> (1 + 2/3) / 2; annotator 1 clips 1, 2 -> 1
    assert result["HL-min-Good"]["HL-mAP"] == round(100 * (5 / 6 + 1 + 0 + 3) / 6, 2)
    # Fair: annotator 2 of qid 1 has only clip 2 (rank 2) -> 1/2
    assert result["HL-min-Fair"]["HL-mAP"] == round(100 * (5 / 6 + 1 + 1 / 2 + 3) / 6, 2)


def test_output_has_the_reference_layout(result):
    assert list(result) == [
        "brief",
        "HL-min-Fair",
        "HL-min-Good",
        "HL-min-VeryGood",
        "full",
        "long",
        "middle",
        "short",
    ]
    assert list(result["brief"]) == [
        "MR-full-R1@0.5",
        "MR-full-R1@0.7",
        "MR-full-mAP",
        "MR-full-mAP@0.5",
        "MR-full-mAP@0.75",
        "MR-long-mAP",
        "MR-middle-mAP",
        "MR-short-mAP",
        "HL-min-Fair-mAP",
        "HL-min-Fair-Hit1",
        "HL-min-Good-mAP",
        "HL-min-Good-Hit1",
        "HL-min-VeryGood-mAP",
        "HL-min-VeryGood-Hit1",
    ]
    assert list(result["full"]["MR-mAP"]) == [str(t) for t in qvhighlights.IOU_THRESHOLDS] + ["average"]


def test_different_query_sets_are_an_error_naming_the_qids():
    with pytest.raises(EvalInputError, match=r"have no prediction: 2\b"):
        qvhighlights.evaluate(_records(PRED[:1]), _records(GT))
    with pytest.raises(EvalInputError, match=r"not in the ground truth: 7\b"):
        qvhighlights.evaluate(_records(PRED + [dict(PRED[0], qid=7)]), _records(GT))


def test_a_query_without_windows_scores_zero_instead_of_crashing():
    pred = _records(PRED)
    pred[1]["pred_relevant_windows"] = []
    result = qvhighlights.evaluate(pred, _records(GT))
    assert result["full"]["MR-R1"]["0.5"] == 50.0
    assert result["full"]["MR-mAP"]["0.5"] == 50.0


def test_clip_id_past_the_video_is_a_clear_error():
    gt = _records(GT)
    gt[0]["relevant_clip_ids"] = [0, 1, 10]  # a 20 s video has clips 0..9
    with pytest.raises(EvalInputError, match="qid 1: relevant_clip_id 10 is past the 10 clips"):
        qvhighlights.evaluate(_records(PRED), gt)


# ---------------------------------------------------------------------------------------------------------
# the real val annotations


@pytest.fixture(scope="module")
def val_release(fixtures_dir):
    return fixtures_dir / "qvhighlights" / "highlight_val_release.jsonl"


def test_perfect_predictions_on_the_val_set(val_release, tmp_path):
    gt = qvhighlights.load_ground_truth(val_release)
    assert len(gt) == 1550
    preds = []
    for record in gt:
        best = qvhighlights.clip_scores(record).max(1)  # (c,) the highest rating of each clip
        windows = [[s, e, 1.0] for s, e in record["relevant_windows"]]
        preds.append(
            {"qid": record["qid"], "pred_relevant_windows": windows, "pred_saliency_scores": best.tolist()}
        )
    result = qvhighlights.evaluate_files(val_release, write_jsonl(tmp_path / "p.jsonl", preds))
    assert set(result["full"]["MR-R1"].values()) == {100.0}
    # only the first 10 windows count: a query with g > 10 windows has recall 10/g at precision 1
    counts = np.array([len(r["relevant_windows"]) for r in gt])
    assert (counts > 10).any()
    assert result["brief"]["MR-full-mAP"] == round(100 * np.minimum(1, 10 / counts).mean(), 2)
    # the top clip carries the best rating of its video: a VeryGood hit exactly when someone rated a 4
    any_four = np.mean([(qvhighlights.clip_scores(r) >= 4).any() for r in gt])
    assert result["brief"]["HL-min-VeryGood-Hit1"] == round(100 * any_four, 2)
    assert result["brief"]["HL-min-Fair-Hit1"] == 100.0


def test_val_set_length_ranges(val_release):
    gt = qvhighlights.load_ground_truth(val_release)
    sizes = {
        name: len(qvhighlights._in_range([], gt, *bounds)[1])
        for name, bounds in qvhighlights.LENGTH_RANGES.items()
    }
    assert sizes == {"short": 429, "middle": 957, "long": 574, "full": 1550}
