"""Dense-captioning localisation (Precision/Recall/F1) and scoring against several reference files.

The values are worked by hand on three real ActivityNet Captions videos of val_1 (the public fixture) and
hand-made predictions; the conventions of densevid_eval's ``evaluate_detection`` are pinned one by one. A
transcription of that reference function checks the per-video numbers on the whole of val_1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from eval_files import write_json

from momentor import cli
from momentor.eval import dense_captioning as dc
from momentor.eval import localisation

# three videos of val_1 (windows in seconds):
#   v_bXdq2zI1Ms0  e1 [0, 10.23]  e2 [10.6, 39.84]  e3 [38.01, 73.1]
#   v_K6Tm5xHkJ5c  e1 [1.15, 64.77]  e2 [38.4, 105.47]
#   v_uqiMw7tQ1Cc  (no prediction)
MARTIAL, INSTRUMENT, WEIGHTS = "v_bXdq2zI1Ms0", "v_K6Tm5xHkJ5c", "v_uqiMw7tQ1Cc"


@pytest.fixture(scope="module")
def val_1(fixtures_dir):
    path = fixtures_dir / "activitynet_captions" / "val_1.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared fixtures folder)")
    return json.loads(path.read_text())


def _results(videos: dict[str, list[tuple[list[float], str]]]) -> dict:
    return {
        "results": {v: [{"timestamp": t, "sentence": s} for t, s in events] for v, events in videos.items()}
    }


def test_precision_recall_f1_worked_by_hand(val_1, tmp_path, meteor):
    gt = write_json(tmp_path / "gt.json", {v: val_1[v] for v in (MARTIAL, INSTRUMENT, WEIGHTS)})
    pred = _results({
        MARTIAL: [
            ([0, 10.23], "a man speaks"),  # = e1: tIoU 10.23 / (10.23 + 1e-8), above 0.9
            # half of e2: 14.62 / (29.24 + 1e-8), just under 0.5: valid at 0.3 only
            ([10.6, 25.22], "he fights"),
            ([40, 60], "he moves"),  # in e3: 20 / 35.09 = 0.57, valid at 0.3 and 0.5
            ([80, 90], "the end"),  # past the video's end, overlaps nothing: never valid
        ],
        # the whole span: against e1 63.62 / 104.32 = 0.61 and e2 67.07 / 104.32 = 0.64, valid at 0.3 and
        # 0.5. The union is the hull (104.32), the smaller of hull and summed lengths (167.94): with the
        # sum, 63.62 / 167.94 = 0.38 would fail 0.5
        INSTRUMENT: [([1.15, 105.47], "a woman plays")],
    })
    result = dc.evaluate_files(gt, write_json(tmp_path / "pred.json", pred), meteor)
    # per video (P, R) at 0.3 / 0.5 / 0.7 / 0.9:
    #   MARTIAL     (3/4, 3/3) (2/4, 2/3) (1/4, 1/3) (1/4, 1/3)   4 predictions, 3 events
    #   INSTRUMENT  (1, 1)     (1, 1)     (0, 0)     (0, 0)
    #   WEIGHTS     (0, 0) at every threshold: no prediction
    # means over the 3 videos: P 7/12, 1/2, 1/12, 1/12 and R 2/3, 5/9, 1/9, 1/9
    # over thresholds: P = (7/12 + 6/12 + 1/12 + 1/12) / 4 = 5/16, R = (6/9 + 5/9 + 1/9 + 1/9) / 4 = 13/36
    # F1 = 2PR / (P + R) = (130/576) / (97/144) = 130/388
    assert (result["Precision"], result["Recall"], result["F1"]) == (31.25, 36.11, 33.51)
    assert {t: (v["Precision"], v["Recall"]) for t, v in result["per_tiou"].items()} == {
        "0.3": (58.33, 66.67),
        "0.5": (50.0, 55.56),
        "0.7": (8.33, 11.11),
        "0.9": (8.33, 11.11),
    }
    assert result["num_videos"] == 3 and result["reference_files"] == 1


def test_threshold_is_strict():
    # densevid counts a pair when tIoU > t; a tIoU equal to the threshold does not count (the caption
    # metrics pair with >=)
    iou = np.array([[0.5, 0.0], [0.0, 0.7]])  # (p, g)
    precision, recall = localisation.best_precision_recall([iou], (0.3, 0.5, 0.7))
    assert precision.tolist() == [1.0, 0.5, 0.0] and recall.tolist() == [1.0, 0.5, 0.0]


def test_f1_is_the_harmonic_mean_of_the_mean_precision_and_recall():
    # video 1: P 1, R 1/2 (F 2/3); video 2: P 0, R 1/2 (F 0). F1 of the means P 1/2, R 1/2 is 1/2; the mean
    # of the per-video F (Vid2Seq's code) would be 1/3
    summary = localisation.summary(np.array([[1.0], [0.0]]), np.array([[0.5], [0.5]]), (0.5,))
    assert (summary["Precision"], summary["Recall"], summary["F1"]) == (50.0, 50.0, 50.0)
    assert localisation.summary(np.zeros((2, 1)), np.zeros((2, 1)), (0.5,))["F1"] == 0.0


def _two_references(val_1, folder):
    """MARTIAL of val_1 and a second file that annotates it with one event f1 [0, 20] (e1's sentence) and
    has a video of its own; predictions p1 = f1, p2 = e2, p3 = e3, each with its event's sentence."""
    truth = val_1[MARTIAL]
    first = write_json(folder / "val_1.json", {MARTIAL: truth})
    second = write_json(folder / "val_2.json", {
        MARTIAL: {"duration": 73.1, "timestamps": [[0, 20]], "sentences": [truth["sentences"][0]]},
        "v_only_in_val_2": {"duration": 30.0, "timestamps": [[0, 10]], "sentences": ["A dog runs."]},
    })
    e1, e2, e3 = truth["sentences"]
    pred = write_json(folder / "pred.json", _results({
        MARTIAL: [([0, 20], e1), ([10.6, 39.84], e2), ([38.01, 73.1], e3)],
    }))
    return first, second, pred


def test_two_reference_files_worked_by_hand(val_1, tmp_path, meteor):
    """val_1 and a hand-made second reference: P and R take each video's best file on their own, the
    caption metrics pool the pairs of both files, SODA_c is the mean over the files."""
    first, second, pred = _two_references(val_1, tmp_path)
    both = dc.evaluate_files([first, second], pred, meteor)
    # tIoUs: p1-e1 10.23/20 = 0.51, p1-e2 9.4/39.84 = 0.24, p2-e2 = p3-e3 = 1, p2-e3 = p3-e2 = 1.83/62.5,
    # p1-f1 = 1, p2-f1 9.4/39.84 = 0.24
    # MARTIAL against val_1: P = R = 1 at 0.3 and 0.5, P = R = 2/3 at 0.7 and 0.9 (p2, p3; e2, e3)
    #         against val_2: P = 1/3, R = 1 at every threshold (p1; f1)
    #         best of each: P 1, 1, 2/3, 2/3 (val_1); R 1 everywhere (val_2 from 0.7 on)
    # v_only_in_val_2 has no prediction: 0. Over 2 videos: P = (1 + 1 + 2/3 + 2/3) / 8 = 5/12, R = 1/2,
    # F1 = (5/12) / (11/12) = 5/11. (One file chosen per video, by F, would give R = 5/12 too.)
    assert (both["Precision"], both["Recall"], both["F1"]) == (41.67, 50.0, 45.45)
    assert both["per_tiou"]["0.7"]["Precision"] == 33.33 and both["per_tiou"]["0.7"]["Recall"] == 50.0
    # METEOR: every pair is a caption and its own reference at every threshold (at 0.7, p1 pairs with f1
    # of val_2, as e1 is below); MARTIAL scores 1, the other video 0
    assert both["METEOR"] == 50.0
    # SODA_c: val_1: the diagonal p1-e1, p2-e2, p3-e3 sums 10.23/20 + 1 + 1 = 2.5115 over 3 and 3, F 0.8372;
    # val_2: p1-f1 sums 1 over 3 predictions and 1 event, F 0.5, and 0 for its second video: 0.25
    assert both["SODA_c"] == round(100 * (2.5115 / 3 + 0.25) / 2, 2)
    assert (both["num_videos"], both["reference_files"], both["videos_without_prediction"]) == (2, 2, 1)

    alone = dc.evaluate_files(first, pred, meteor)  # val_1 alone: p1 has no reference at 0.7 and 0.9
    assert (alone["Precision"], alone["Recall"], alone["SODA_c"]) == (83.33, 83.33, 83.72)
    assert alone["METEOR"] < 100.0 and alone["reference_files"] == 1
    assert alone["items"]["fingerprint"] == dc.truth_fingerprint(dc.load_ground_truth(first))
    assert both["items"]["fingerprint"] != alone["items"]["fingerprint"]


def _densevid_detection(references: list[dict], prediction: dict, tiou: float) -> tuple[list, list]:
    """densevid_eval's evaluate_detection, per video (its Python 2 code, transcribed)."""
    vid_ids = list(dict.fromkeys(v for gt in references for v in gt))
    recall, precision = [0] * len(vid_ids), [0] * len(vid_ids)
    for vid_i, vid_id in enumerate(vid_ids):
        best_recall = best_precision = 0
        for gt in references:
            if vid_id not in gt:
                continue
            refs = gt[vid_id]
            ref_set_covered, pred_set_covered = set(), set()
            if vid_id in prediction:
                for pred_i, pred in enumerate(prediction[vid_id]):
                    for ref_i, ref_timestamp in enumerate(refs["timestamps"]):
                        if _densevid_iou(pred["timestamp"], ref_timestamp) > tiou:
                            ref_set_covered.add(ref_i)
                            pred_set_covered.add(pred_i)
                best_precision = max(best_precision, float(len(pred_set_covered)) / (pred_i + 1))
            best_recall = max(best_recall, float(len(ref_set_covered)) / len(refs["timestamps"]))
        recall[vid_i], precision[vid_i] = best_recall, best_precision
    return precision, recall


def _densevid_iou(interval_1, interval_2):
    start_i, end_i = interval_1[0], interval_1[1]
    start, end = interval_2[0], interval_2[1]
    intersection = max(0, min(end, end_i) - max(start, start_i))
    union = min(max(end, end_i) - min(start, start_i), end - start + end_i - start_i)
    return float(intersection) / (union + 1e-8)


def test_matches_densevid_evaluate_detection_on_val_1(val_1):
    rng = np.random.default_rng(0)
    # a second reference: the jittered events of most of every fifth val_1 video, and 20 videos of its own
    second = {}
    own = [(f"x{i}", val_1[video]) for i, video in enumerate(list(val_1)[:20])]
    for video, events in list(val_1.items())[::5] + own:
        if rng.random() < 0.8:
            jitter = rng.normal(0, 5, (len(events["timestamps"]), 2))
            second[video] = {"timestamps": np.round(np.array(events["timestamps"]) + jitter, 2).tolist()}
    # predictions: jittered events, some dropped, a few extra; one video in ten without any
    prediction = {}
    for video, events in list(val_1.items()) + list(second.items())[-5:]:
        if rng.random() < 0.1:
            continue
        kept = [[s + rng.normal(0, 8), e + rng.normal(0, 8)] for s, e in events["timestamps"]
                if rng.random() < 0.8]
        kept += [[s, s + rng.uniform(1, 40)] for s in rng.uniform(0, 100, rng.integers(0, 3))]
        if kept:
            prediction[video] = [{"timestamp": [float(s), float(e)]} for s, e in kept]
    references = [val_1, second]
    videos, precision, recall = localisation.per_video(
        [{v: np.array(e["timestamps"], float).reshape(-1, 2) for v, e in ref.items()} for ref in references],
        {v: np.array([p["timestamp"] for p in events]) for v, events in prediction.items()},
        dc.TIOUS,
    )
    assert videos == list(dict.fromkeys(v for ref in references for v in ref))
    for t, tiou in enumerate(dc.TIOUS):
        expected_p, expected_r = _densevid_detection(references, prediction, tiou)
        assert precision[:, t].tolist() == expected_p, tiou
        assert recall[:, t].tolist() == expected_r, tiou
    assert 0.2 < precision.mean() < 0.8 and 0.2 < recall.mean() < 0.8  # neither trivially 0 nor 1


def test_cli_takes_several_ground_truth_files_for_dense_captioning_only(tmp_path, capsys):
    first = write_json(tmp_path / "a.json", {"v1": {"timestamps": [[0, 5]], "sentences": ["A dog runs."]}})
    second = write_json(tmp_path / "b.json", {"v1": {"timestamps": [[0, 9]], "sentences": ["A dog runs."]}})
    parser = cli.build_parser()
    repeated = parser.parse_args(["evaluate", "dense_captioning", "--gt", str(first), "--gt", str(second),
                                  "--pred", "p.json"])
    listed = parser.parse_args(
        ["evaluate", "dense_captioning", "--gt", str(first), str(second), "--pred", "p.json"]
    )
    assert repeated.gt == listed.gt == [str(first), str(second)]
    assert cli.main(["evaluate", "grounding", "--gt", str(first), str(second), "--pred", str(first)]) == 1
    assert "grounding takes one ground truth" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_verb_scores_two_reference_files(val_1, tmp_path):
    """The verb end to end (its own METEOR JVM, ~20 s): the files of the worked example above."""
    first, second, pred = _two_references(val_1, tmp_path)
    out, headline = tmp_path / "out.json", tmp_path / "headline.json"
    assert cli.main(["evaluate", "dense_captioning", "--gt", str(first), str(second), "--pred", str(pred),
                     "--out", str(out), "--headline", str(headline)]) == 0
    result = json.loads(out.read_text())
    assert (result["Precision"], result["Recall"], result["F1"]) == (41.67, 50.0, 45.45)
    assert result["reference_files"] == 2
    entry = json.loads(headline.read_text())["dense_captioning"]
    assert (entry["Precision"], entry["Recall"], entry["F1"], entry["SODA_c"]) == (41.67, 50.0, 45.45, 54.36)
