import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

from momentor.eval.grounding import GroundingConvention, evaluate_files
from momentor.infer.baselines import baseline_grounding, best_fixed_window, best_iou, split_queries
from momentor.infer.predict import predict


def test_predict_writes_one_grounding_line_per_query_and_captions_per_video(
    tiny_cfg, tiny_checkpoint, tmp_path
):
    cfg = tiny_cfg()
    written = predict(
        cfg, tiny_checkpoint, tmp_path, split="test", batch_size=4, max_new_tokens=6, max_caption_tokens=8
    )
    manifest = f"{cfg.paths.work}/manifest"
    videos = pd.read_parquet(f"{manifest}/videos.parquet")
    test_videos = set(videos[videos.split == "test"].video_id)
    queries = pd.read_parquet(f"{manifest}/queries.parquet")
    expected = list(queries[queries.video_id.isin(test_videos)].query_id)
    rows = [json.loads(line) for line in written["grounding"].read_text().splitlines()]
    assert [r["query_id"] for r in rows] == expected and expected
    durations = dict(zip(videos.video_id, videos.duration))
    for r in rows:
        assert all(0 <= s <= e <= durations[r["video_id"]] for s, e, _ in r["pred_windows"])
    # the evaluator takes the file as it is (same query set, valid windows)
    result = evaluate_files(manifest, written["grounding"], GroundingConvention(), split="test")
    assert result["num_queries"] == len(expected)
    dense = json.loads(written["dense_captioning"].read_text())
    assert set(dense["results"]) == test_videos


def test_fixed_baseline_is_the_best_relative_window_on_train(tiny_cfg):
    manifest = f"{tiny_cfg().paths.work}/manifest"
    train = split_queries(manifest, "train")
    a, b = best_fixed_window(train)

    def hits(lo, hi):
        return sum(best_iou(np.array([lo * d, hi * d]), w) >= 0.5 for _, _, d, w in train)

    assert all(
        hits(a, b) >= hits(lo, hi)
        for lo, hi in [(0.0, 1.0), (0.0, 0.5), (0.25, 0.75), (0.5, 1.0), (0.3, 0.6)]
    )
    test = {q: d for q, _, d, _ in split_queries(manifest, "test")}
    for row in baseline_grounding(manifest, "test", "fixed"):
        assert row["pred_windows"] == [[a * test[row["query_id"]], b * test[row["query_id"]], 1.0]]
    random_rows = baseline_grounding(manifest, "test", "random", seed=3)
    assert random_rows == baseline_grounding(manifest, "test", "random", seed=3)
    assert [r["query_id"] for r in random_rows] == list(test)
    assert all(
        0 <= r["pred_windows"][0][0] <= r["pred_windows"][0][1] <= test[r["query_id"]] for r in random_rows
    )


def test_best_iou_hand_worked():
    truth = np.array([[0.0, 4.0], [6.0, 10.0]])
    assert best_iou(np.array([2.0, 6.0]), truth) == 2 / 6  # [2, 4] shared with the first, of [0, 6]
    assert best_iou(np.array([5.0, 9.0]), truth) == 3 / 5  # [6, 9] shared with the second, of [5, 10]
    assert best_iou(np.array([4.5, 5.5]), truth) == 0.0


def test_ask_answers_about_a_video_file_and_reports_bad_files(
    tiny_cfg, tiny_corpus, tiny_checkpoint, tmp_path
):
    video = min((tiny_corpus / "data" / "sample").glob("*.mp4"))
    sets = [a for o in ["model.preset=tiny", f"paths.work={tiny_corpus / 'work'}"] for a in ("-S", o)]
    base = [sys.executable, "-m", "momentor.cli", "ask", "--params", os.devnull, *sets]
    done = subprocess.run(
        [
            *base,
            str(video),
            "When does the red circle move?",
            "--checkpoint",
            str(tiny_checkpoint),
            "--json",
            "--max-new-tokens",
            "5",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(answer) == {"answer", "timestamps"} and isinstance(answer["answer"], str)
    bad = tmp_path / "not_a_video.mp4"
    bad.write_text("hello")
    done = subprocess.run(
        [*base, str(bad), "When?", "--checkpoint", str(tiny_checkpoint)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "not a readable video container" in done.stderr
