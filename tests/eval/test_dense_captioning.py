"""Dense captioning: SODA_c's assignment, the per-video rules worked by hand (real METEOR 1.5), file formats.

METEOR 1.5 scores a hypothesis identical to its reference 1 (no fragmentation penalty on an exact match),
and CIDEr-D scores it 10 when the video has at least two pairs (a single pair has idf log(1) = 0 for every
n-gram, so CIDEr is 0: a quirk of computing CIDEr per video that the official evaluator has too).
"""

from __future__ import annotations

import numpy as np
import pytest
from eval_files import write_json

from momentor.eval import dense_captioning as dc
from momentor.eval.jsonio import EvalInputError

EVENTS = {
    "timestamps": [[0.0, 10.0], [10.0, 20.0]],
    "sentences": ["A man opens the fridge.", "The woman closes a door."],
}


def _events(timestamps, sentences):
    return [{"timestamp": t, "sentence": s} for t, s in zip(timestamps, sentences)]


def test_soda_assignment_preserves_order():
    # the crossing pairs (0, 1) and (1, 0) would sum to 2; order-preserving, the best is 1
    assert dc.soda_best_score(np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    # both diagonal pairs beat any single cell
    assert dc.soda_best_score(np.array([[0.4, 0.5], [0.3, 0.45]])) == pytest.approx(0.85)
    assert dc.soda_best_score(np.array([[0.2, 0.1, 0.7]])) == 0.7


def test_perfect_video_and_missing_video_worked_by_hand(tmp_path, meteor):
    gt = write_json(
        tmp_path / "gt.json", {"v1": dict(EVENTS, duration=20.0), "v2": dict(EVENTS, duration=20.0)}
    )
    pred = write_json(
        tmp_path / "pred.json", {"results": {"v1": _events(EVENTS["timestamps"], EVENTS["sentences"])}}
    )
    result = dc.evaluate_files(gt, pred, meteor)
    # v1: identical pairs at every tIoU -> METEOR 1, CIDEr 10 (two pairs), SODA P = R = 1; v2 has no
    # prediction and scores 0: halves of the perfect scores
    assert (result["METEOR"], result["CIDEr"], result["SODA_c"]) == (50.0, 500.0, 50.0)
    assert result["videos_without_prediction"] == 1
    assert result["per_tiou"]["0.9"] == {"CIDEr": 500.0, "METEOR": 50.0, "Precision": 50.0, "Recall": 50.0}


def test_unmatched_prediction_is_penalised(tmp_path, meteor):
    gt = write_json(tmp_path / "gt.json", {"v1": dict(EVENTS, duration=40.0)})
    extra = _events(EVENTS["timestamps"] + [[30.0, 40.0]], EVENTS["sentences"] + ["Zebras graze."])
    result = dc.evaluate_files(gt, write_json(tmp_path / "pred.json", {"results": {"v1": extra}}), meteor)
    # SODA: best sum 2 over 3 predictions and 2 truths -> P 2/3, R 1, F 0.8
    assert result["SODA_c"] == 80.0
    # the extra caption is paired with a reference that matches nothing, at every tIoU
    assert 0.0 < result["METEOR"] < 100.0


def test_single_pair_video_has_cider_zero(tmp_path, meteor):
    gt = write_json(tmp_path / "gt.json", {"v1": {"timestamps": [[0, 5]], "sentences": ["A dog runs."]}})
    pred = write_json(tmp_path / "pred.json", {"v1": [{"timestamp": [0, 5], "caption": "a dog runs"}]})
    result = dc.evaluate_files(gt, pred, meteor)  # TimeChat's bare mapping and 'caption' key are accepted
    assert (result["METEOR"], result["CIDEr"], result["SODA_c"]) == (100.0, 0.0, 100.0)


def test_soda_corpus_aggregation(tmp_path, meteor):
    gt = write_json(
        tmp_path / "gt.json", {"v1": EVENTS, "v2": {"timestamps": [[0, 5]], "sentences": ["A dog runs."]}}
    )
    extra = _events(EVENTS["timestamps"] + [[30.0, 40.0]], EVENTS["sentences"] + ["Zebras graze."])
    pred = write_json(tmp_path / "pred.json", {"results": {"v1": extra}})
    # per video: F 0.8 and 0 -> 40; corpus: best 2 over 3 predictions and 3 truths -> P = R = 2/3
    assert dc.evaluate_files(gt, pred, meteor)["SODA_c"] == 40.0
    assert dc.evaluate_files(gt, pred, meteor, soda_aggregation="corpus")["SODA_c"] == round(100 * 2 / 3, 2)


def test_prediction_for_an_unknown_video_is_an_error(tmp_path):
    gt = write_json(tmp_path / "gt.json", {"v1": EVENTS})
    pred = write_json(tmp_path / "pred.json", {"results": {"v9": _events([[0, 1]], ["x"])}})
    with pytest.raises(EvalInputError, match="1 predicted videos are not in .*: v9"):
        dc.evaluate_files(gt, pred)


def test_activitynet_and_youcook2_ground_truth_formats(fixtures_dir):
    anet = dc.load_ground_truth(fixtures_dir / "activitynet_captions" / "val_1.json")
    assert len(anet) == 4917 and sum(len(v.sentences) for v in anet.values()) == 17505
    youcook = dc.load_ground_truth(fixtures_dir / "youcook2" / "val_gt.json")
    assert len(youcook) == 415
    video = youcook["xHr8X2Wpmno"]  # TimeChat's "xHr8X2Wpmno.mp4", as the manifest names it
    assert (
        video.timestamps[0].tolist() == [47.0, 60.0]
        and video.sentences[0] == "pick the ends off the verdalago"
    )
    assert all(len(v.sentences) == len(v.timestamps) for v in youcook.values())


@pytest.mark.parametrize(
    "events", [{"timestamps": [], "sentences": []}, {"timestamps": [[0, 5]], "sentences": ["a", "b"]}]
)
def test_video_without_events_or_with_unpaired_sentences_is_an_error(tmp_path, events):
    gt = write_json(tmp_path / "gt.json", {"v1": EVENTS, "v2": events})
    with pytest.raises(EvalInputError, match="v2 has .* timestamps and .* sentences"):
        dc.load_ground_truth(gt)
