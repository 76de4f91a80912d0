"""Temporal grounding: the conventions, worked by hand, and the real Charades-STA / ActivityNet files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from eval_files import write_jsonl

from momentor import config
from momentor.eval import grounding, tasks
from momentor.eval.grounding import GroundingConvention, GroundingQuery
from momentor.eval.jsonio import EvalInputError


def _query(qid, window, duration=10.0):
    return GroundingQuery(qid, "v", duration, np.array([window], dtype=float))


def _score(window, pred, duration=10.0, **convention):
    queries = [_query("q", window, duration)]
    return grounding.score(
        queries, {"q": grounding.rank_windows([pred], "q")}, GroundingConvention(**convention)
    )


def test_clipping_to_the_duration():
    # gt [0, 10] in a 10 s video, prediction [5, 15]: IoU 5/15 as given, 5/10 once clipped to [5, 10]
    assert _score([0, 10], [5, 15, 1.0], clip_to_duration=False)["mIoU"] == pytest.approx(33.33)
    assert _score([0, 10], [5, 15, 1.0])["mIoU"] == 50.0


def test_inclusive_versus_strict_threshold():
    # clipped IoU exactly 0.5: counted with >=, not with >
    assert _score([0, 10], [5, 15, 1.0])["R1@0.5"] == 100.0
    assert _score([0, 10], [5, 15, 1.0], inclusive=False)["R1@0.5"] == 0.0


def test_rounding_before_the_threshold():
    # IoU 2.996 / 10 = 0.2996: a miss at 0.3, a hit once rounded to 2 decimals (0.30)
    assert _score([0, 10], [0, 2.996, 1.0])["R1@0.3"] == 0.0
    assert _score([0, 10], [0, 2.996, 1.0], round_to=2)["R1@0.3"] == 100.0


def test_annotation_past_the_end_is_clipped_and_counted():
    # gt [5, 12] in a 10 s video: clipped to [5, 10], the prediction [5, 10] matches it exactly
    result = _score([5, 12], [5, 10, 1.0])
    assert result["mIoU"] == 100.0 and result["gt_windows_past_end"] == 1
    assert _score([5, 12], [5, 10, 1.0], clip_to_duration=False)["mIoU"] == pytest.approx(71.43)  # 5 / 7


def test_top1_is_the_highest_score_and_missing_windows_score_zero():
    queries = [_query("a", [0, 10]), _query("b", [0, 10])]
    predictions = {"a": grounding.rank_windows([[0, 1, 0.2], [0, 10, 0.9]], "a"), "b": np.zeros((0, 3))}
    result = grounding.score(queries, predictions, GroundingConvention())
    assert result["R1@0.7"] == 50.0 and result["mIoU"] == 50.0


def test_moments_tell_which_moment_of_the_video_the_answer_lands_on():
    # three moments of one 10 s video, asked once each, and a second video asked once
    queries = [_query("a", [0, 3]), _query("b", [3, 6]), _query("c", [6, 10]), _query("d", [2, 8])]
    queries[3].video_id = "w"
    answers = (("a", [0, 3.2]), ("b", [0, 3]), ("c", [0.5, 2.5]))
    ranked = {k: grounding.rank_windows([w], k) for k, w in answers}
    result = grounding.score(queries, {**ranked, "d": np.zeros((0, 3))}, GroundingConvention())
    # a: its own moment; b: the first moment, not its own; c: IoU 2/3 with the first moment; d: nothing
    assert result["moments"] == {
        "own": 25.0,
        "other": 50.0,
        "none": 25.0,
        "first": 75.0,
        "first_prior": 50.0,  # a's own moment is its video's first, and so is d's (its only one)
        "videos_with_several_moments": 1,
    }
    assert result["R1@0.5"] == result["moments"]["own"]


def test_differing_query_sets_name_the_ids(tmp_path, fixtures_dir):
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    pred = write_jsonl(
        tmp_path / "p.jsonl", [{"query_id": "3MSZA_q0", "video_id": "3MSZA", "pred_windows": [[0, 1, 1]]}]
    )
    with pytest.raises(
        EvalInputError, match=r"3719 query_id\(s\) of the ground truth have no prediction: 00607_q0"
    ):
        grounding.evaluate_files(gt, pred, GroundingConvention())


def test_charades_sta_test_set(fixtures_dir, tmp_path):
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    queries = grounding.load_ground_truth(gt)  # durations from Charades_v1_test.csv beside it
    assert len(queries) == 3720 and len({q.video_id for q in queries}) == 1334
    assert grounding.count_past_end(queries) == 562
    # the unclipped annotation as the prediction: every query is found once both are clipped
    pred = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"query_id": q.query_id, "video_id": q.video_id, "pred_windows": [[*q.windows[0], 1.0]]}
            for q in queries
        ],
    )
    result = grounding.evaluate_files(gt, pred, GroundingConvention())
    assert (result["R1@0.3"], result["R1@0.7"], result["mIoU"]) == (100.0, 100.0, 100.0)
    assert result["gt_windows_past_end"] == 562
    # every answer on its own moment; the same moment asked twice counts once among the video's moments
    moments = result["moments"]
    assert (moments["own"], moments["other"], moments["none"]) == (100.0, 0.0, 0.0)
    # Charades-STA's moments of a video overlap: an answer on its own moment can land on the first one too
    assert 0 < moments["first_prior"] < moments["first"] < 100
    assert 0 < moments["videos_with_several_moments"] < 1334


def test_activitynet_captions_val(fixtures_dir):
    queries = grounding.load_ground_truth(fixtures_dir / "activitynet_captions" / "val_1.json")
    assert len(queries) == 17505 and len({q.video_id for q in queries}) == 4917
    assert queries[0].query_id == "v_uqiMw7tQ1Cc_q0"


def test_manifest_ground_truth_with_split_filter(tmp_path):
    pd.DataFrame(
        {
            "video_id": ["a", "b"],
            "path": ["", ""],
            "duration": [10.0, 20.0],
            "fps": [8.0, 8.0],
            "source": ["sample", "sample"],
            "split": ["test", "train"],
            "sha256": ["", ""],
        }
    ).to_parquet(tmp_path / "videos.parquet")
    pd.DataFrame(
        {
            "query_id": ["a_q0", "b_q0"],
            "video_id": ["a", "b"],
            "text": ["x", "y"],
            "windows": [[[2.0, 6.0]], [[0.0, 5.0]]],
            "split": ["test", "train"],
            "source": ["sample", "sample"],
            "relevant_clip_ids": [[], []],
            "saliency_scores": [[], []],
        }
    ).to_parquet(tmp_path / "queries.parquet")
    pred = write_jsonl(
        tmp_path / "p.jsonl", [{"query_id": "a_q0", "video_id": "a", "pred_windows": [[2, 4, 1]]}]
    )
    result = tasks.evaluate("grounding", tmp_path, pred, config.Config(), split="test")
    assert result["num_queries"] == 1 and result["mIoU"] == 50.0  # [2, 4] inside [2, 6]
