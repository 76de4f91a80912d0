"""Action segmentation: MS-TCN's MoF / Edit / F1, worked by hand, and the Breakfast annotations."""

from __future__ import annotations

import numpy as np
import pytest
from eval_files import write_json

from momentor.eval import action_segmentation as seg
from momentor.eval.jsonio import EvalInputError

TRUE = list("aaabbccccc")  # a [0, 3), b [3, 5), c [5, last index 9]
PRED = list("aabbbcdddd")  # a [0, 2), b [2, 5), c [5, 6), d [6, 9]


def test_segments_end_where_the_next_starts_and_the_last_at_its_final_index():
    assert seg.segments(TRUE) == (["a", "b", "c"], [0, 3, 5], [3, 5, 9])
    assert seg.segments(TRUE, background=("b",)) == (["a", "c"], [0, 5], [3, 9])


def test_metrics_worked_by_hand():
    result = seg.score({"v": TRUE}, {"v": PRED})
    assert result["MoF"] == 50.0  # frames 0, 1, 3, 4, 5 agree
    assert result["Edit"] == 75.0  # a b c d vs a b c: one insertion in 4
    # IoUs with the same-label truth: a 2/3, b 2/3, c (5,6) vs (5,9) = 1/4, d none
    # @10 and @25 (>= 0.25): tp 3, fp 1, fn 0 -> F1 = 2 * .75 * 1 / 1.75
    assert result["F1@10"] == result["F1@25"] == round(100 * 1.5 / 1.75, 2)
    # @50: tp 2 (a, b), fp 2 (c, d), fn 1 (c) -> P 1/2, R 2/3 -> F1 4/7
    assert result["F1@50"] == round(100 * 4 / 7, 2)


def test_f1_sums_counts_over_videos_before_dividing():
    # one perfect video and the worked one: tp/fp/fn are pooled, not F1 averaged
    result = seg.score({"v": TRUE, "w": TRUE}, {"v": PRED, "w": TRUE})
    tp, fp, fn = 2 + 3, 2 + 0, 1 + 0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert result["F1@50"] == round(100 * 2 * precision * recall / (precision + recall), 2)
    assert result["Edit"] == (75.0 + 100.0) / 2  # Edit is averaged per video
    assert result["MoF"] == 75.0  # 15 of 20 frames, pooled


def test_background_labels_leave_edit_and_f1_but_not_mof():
    plain = seg.score({"v": TRUE}, {"v": PRED})
    without_d = seg.score({"v": TRUE}, {"v": PRED}, background=("d",))
    assert without_d["MoF"] == plain["MoF"]
    assert without_d["Edit"] == 100.0  # a b c vs a b c
    assert without_d["F1@10"] == 100.0


def test_length_mismatch_names_the_video():
    with pytest.raises(EvalInputError, match="video v: 9 predicted labels for 10 frames"):
        seg.score({"v": TRUE}, {"v": PRED[:-1]})


@pytest.fixture(scope="module")
def breakfast(fixtures_dir):
    return fixtures_dir / "breakfast" / "groundTruth"


def test_breakfast_perfect_and_shifted_predictions(breakfast, tmp_path):
    truth = seg.load_ground_truth(breakfast)
    assert len(truth) == 14 and sum(map(len, truth.values())) == 31806
    perfect = seg.evaluate_files(breakfast, write_json(tmp_path / "p.json", truth))
    assert [perfect[k] for k in ("MoF", "Edit", "F1@10", "F1@25", "F1@50")] == [100.0] * 5
    # every prediction 40 frames late: MoF is the fraction of frames still equal, counted here directly
    late = {v: labels[:1] * 40 + labels[:-40] for v, labels in truth.items()}
    result = seg.evaluate_files(breakfast, write_json(tmp_path / "late.json", late))
    same = sum(int(np.sum(np.array(t) == np.array(late[v]))) for v, t in truth.items())
    assert result["MoF"] == round(100 * same / 31806, 2)
    assert result["Edit"] == 100.0  # the same label sequence, only moved


def _fill_background(labels: list[str], background: str = "SIL") -> list[str]:
    """Background frames take the label of the action before them (the first action for leading ones)."""
    first = next(x for x in labels if x != background)
    filled, last = [], first
    for x in labels:
        last = x if x != background else last
        filled.append(last)
    return filled


def test_breakfast_background_sil_counts_unless_excluded(breakfast, tmp_path):
    truth = seg.load_ground_truth(breakfast)
    pred = write_json(tmp_path / "p.json", {v: _fill_background(labels) for v, labels in truth.items()})
    counted = seg.evaluate_files(breakfast, pred)
    excluded = seg.evaluate_files(breakfast, pred, background=("SIL",))
    # counted, the missing SIL segments are edits; excluded, the action sequences are identical
    assert counted["Edit"] < 100.0 and counted["background"] == ["background"]
    assert excluded["Edit"] == 100.0
    assert excluded["MoF"] == counted["MoF"] < 100.0
