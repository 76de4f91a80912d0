"""Highlight detection and action segmentation through predict and evaluate.

A hand-made manifest (one 10 s test video at 2 fps, two events, one query) gets its ground truth from the
engine's derivation; the split-level prediction functions of ``momentor predict`` turn given answers (as
predict reuses the grounding and dense-captioning answers of the same run) into prediction files; the
``evaluate`` verb scores them. A perfect answer scores 100, a shifted one exactly the hand-computed less.
Then the real (untrained, tiny) model through the ``predict``, ``evaluate``, ``baselines`` and ``gate`` verbs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from momentor_tiny_corpus import corpus_overrides

from momentor.cli import main
from momentor.data.engine.ground_truth import add_ground_truth
from momentor.data.manifest import TABLES, write_table
from momentor.infer.highlights import predict_highlights, window_saliency
from momentor.infer.predict import write_highlights, write_segmentation
from momentor.infer.segmentation import predict_segmentation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # real short clips: video_files.py
MILK, EGG = "a man pours milk into a glass", "a woman cracks an egg into a bowl"


def test_window_saliency_is_the_best_score_times_coverage_per_clip():
    # 9 s: 4 clips; [1, 5] first (score 1) covers 1/2, 1, 1/2 of clips 0-2; [6, 8] second (score 1/2) clip 3
    assert window_saliency([[1.0, 5.0, 1.0], [6.0, 8.0, 0.5]], 9.0) == [0.5, 1.0, 0.5, 0.5]
    assert window_saliency([], 9.0) == [0.0] * 4


@pytest.fixture
def hand_manifest(tmp_path):
    folder = tmp_path / "manifest"
    rows = {name: [] for name in TABLES}
    rows["videos"] = [{"video_id": "v1", "path": "v1.mp4", "duration": 10.0, "fps": 2.0, "source": "sample",
                       "split": "test", "sha256": ""}]
    rows["segments"] = [{"segment_id": f"v1_s{k}", "video_id": "v1", "start": s, "end": e, "caption": c,
                         "origin": "gt"} for k, (s, e, c) in enumerate([(0.0, 4.0, MILK), (4.0, 10.0, EGG)])]
    rows["queries"] = [{"query_id": "q1", "video_id": "v1", "text": "the man pours milk", "windows": [[0.0, 4.0]],
                        "split": "test", "source": "sample", "relevant_clip_ids": [], "saliency_scores": []}]
    for name, table in rows.items():
        write_table(folder, name, table)
    assert add_ground_truth(folder) == {"queries_with_derived_saliency": 1, "videos_with_derived_frame_labels": 1}
    return folder


def _evaluate(task, manifest, pred, out) -> dict:
    assert main(["evaluate", task, "--params", "params.yaml", "--gt", str(manifest), "--split", "test", "--pred",
                 str(pred), "--out", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture
def in_checkout(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # params.yaml


def test_highlights_perfect_scores_100_and_a_2s_shift_scores_the_hand_computed_less(hand_manifest, tmp_path,
                                                                                     in_checkout):
    results = {}
    for name, window in (("perfect", [0.0, 4.0, 1.0]), ("shifted", [2.0, 6.0, 1.0])):
        lines = predict_highlights(None, hand_manifest, "test", None, 8, 8, known={"q1": [window]})
        results[name] = _evaluate("qvhighlights", hand_manifest, write_highlights(tmp_path / name, lines),
                                  tmp_path / f"{name}.json")
    perfect, shifted = results["perfect"], results["shifted"]
    assert perfect["brief"]["HL-min-VeryGood-mAP"] == 100.0 and perfect["brief"]["HL-min-VeryGood-Hit1"] == 100.0
    assert perfect["brief"]["MR-full-mAP"] == 100.0 and perfect["items"]["values"] == {"q1": 100.0}
    # truth: clips 0 and 1 VeryGood (4), clips 2-4 not relevant. [2, 6] gives saliency [0, 1, 1, 0, 0]:
    # the top clip (1) is VeryGood: HIT@1 100; ranking {1, 2} then {0, 3, 4}: precision 1/2 at recall 1/2,
    # 2/5 at recall 1: interpolated AP = (1/2 + 2/5) / 2 = 45. IoU([2, 6], [0, 4]) = 1/3: MR-mAP 0.
    assert shifted["brief"]["HL-min-VeryGood-Hit1"] == 100.0
    assert shifted["brief"]["HL-min-VeryGood-mAP"] == 45.0 and shifted["items"]["values"] == {"q1": 45.0}
    assert shifted["brief"]["MR-full-mAP"] == 0.0


def test_segmentation_perfect_scores_100_and_a_1s_shift_loses_the_hand_computed_frames(hand_manifest, tmp_path,
                                                                                        in_checkout):
    results = {}
    for name, shift in (("perfect", 0.0), ("shifted", 1.0)):
        events = [{"timestamp": [0.0 + shift, 4.0 + shift], "sentence": MILK},
                  {"timestamp": [4.0 + shift, 10.0], "sentence": EGG}]
        labels = predict_segmentation(None, hand_manifest, "test", None, 8, 8, known={"v1": events})
        results[name] = _evaluate("action_segmentation", hand_manifest, write_segmentation(tmp_path / name, labels),
                                  tmp_path / f"{name}.json")
    perfect, shifted = results["perfect"], results["shifted"]
    assert {k: perfect[k] for k in ("MoF", "Edit", "F1@10", "F1@25", "F1@50")} == dict.fromkeys(
        ("MoF", "Edit", "F1@10", "F1@25", "F1@50"), 100.0)
    # 20 frames (centres 0.25 ... 9.75 s): truth milk 0-7, egg 8-19. Shifted by 1 s: frames 0-1 background,
    # milk 2-9, egg 10-19: 4 frames wrong, MoF 80; the same segment order (Edit 100); IoUs 6/10 and 9/11
    # (MS-TCN's frame-index ends) stay above 0.5 (F1@50 100)
    assert shifted["MoF"] == 80.0 and shifted["Edit"] == 100.0 and shifted["F1@50"] == 100.0
    assert shifted["items"] == {**perfect["items"], "values": {"v1": 100.0}}


def _verb(tiny_corpus, *argv) -> int:
    overrides = [a for o in corpus_overrides(tiny_corpus) for a in ("-S", o)]
    return main([*argv, "--params", "params.yaml", *overrides])


def test_the_model_predicts_both_tasks_and_the_gate_compares_them_with_baselines(tiny_corpus, tiny_checkpoint,
                                                                                  tmp_path, in_checkout):
    import pandas as pd

    manifest = tiny_corpus / "work" / "manifest"
    tasks = ("qvhighlights", "action_segmentation")
    pred, scored, base = tmp_path / "pred", tmp_path / "eval", tmp_path / "base"
    assert _verb(tiny_corpus, "predict", "--checkpoint", str(tiny_checkpoint), "--manifest", str(manifest),
                 "--split", "test", "--tasks", *tasks, "--out", str(pred), "--max-new-tokens", "6",
                 "--max-caption-tokens", "8") == 0
    for task in tasks:
        assert _verb(tiny_corpus, "evaluate", task, "--gt", str(manifest), "--split", "test", "--pred",
                     str(pred / f"{task}.json"), "--out", str(scored / f"{task}.json"), "--metrics",
                     str(scored / "metrics.json"), "--headline", str(scored / "headline.json")) == 0
    videos = pd.read_parquet(manifest / "videos.parquet")
    test = set(videos[videos.split == "test"].video_id)
    queries = pd.read_parquet(manifest / "queries.parquet")
    expected = {q for q, v, c in zip(queries.query_id, queries.video_id, queries.relevant_clip_ids)
                if v in test and len(c)}
    assert set(json.loads((scored / "qvhighlights.json").read_text())["items"]["values"]) == expected and expected
    labels = json.loads((pred / "action_segmentation.json").read_text())
    assert set(labels) == test

    assert _verb(tiny_corpus, "baselines", "--gt", str(manifest), "--split", "test", "--tasks", *tasks,
                 "--out", str(base)) == 0
    frames = pd.read_parquet(manifest / "frame_labels.parquet").set_index("video_id")
    train = [x for v in videos[videos.split == "train"].video_id for x in frames.labels[v]]
    majority = max(set(train), key=train.count)
    fixed = json.loads((base / "fixed" / "predictions" / "action_segmentation.json").read_text())
    assert fixed == {v: [majority] * len(frames.labels[v]) for v in test}
    assert _verb(tiny_corpus, "gate", "--metrics", str(scored / "metrics.json"), "--baseline-results", str(base),
                 "--champion", str(tmp_path / "champion"), "--out", str(tmp_path / "decision.json")) == 0
    decision = json.loads((tmp_path / "decision.json").read_text())
    for task in tasks:
        assert set(decision["tasks"][task]["models"]) == {"candidate", "random", "fixed"}
    assert decision["tasks"]["qvhighlights"]["metric"] == "HL-min-VeryGood-mAP"
    headline = json.loads((scored / "headline.json").read_text())
    assert {"HL-min-VeryGood-mAP", "HL-min-VeryGood-Hit1", "HL-min-VeryGood-mAP_low"} <= set(headline["qvhighlights"])
    assert {"MoF", "Edit", "F1@50", "Edit_low", "Edit_high"} <= set(headline["action_segmentation"])
    # the report shows each task next to both baselines (what scripts/run.sh's report step renders)
    page = tmp_path / "report.html"
    assert _verb(tiny_corpus, "report", "--metrics", str(scored / "metrics.json"), "--decision",
                 str(tmp_path / "decision.json"), "--baseline-results", str(base), "--champion",
                 str(tmp_path / "champion"), "--timeline", "action_segmentation", str(manifest),
                 str(pred / "action_segmentation.json"), "--out", str(page)) == 0
    html = page.read_text()
    for title in ("highlight detection (QVHighlights): HL-min-VeryGood-mAP over", "action segmentation: Edit over",
                  "Timelines: action segmentation"):
        assert title in html
    assert html.count("<th>fixed</th><th>Δ</th><th>random</th>") == 2  # both tasks' metric tables


def test_benchmark_runs_the_zero_shot_evaluation_on_a_copy_of_qvhighlights(tiny_checkpoint, fixtures_dir, tmp_path,
                                                                          in_checkout):
    """Two queries of the public QVHighlights val release, with real (short, 1 fps) H.264 files of the
    stated 150 s as their videos: `momentor benchmark` ingests, extracts features, predicts and scores them."""
    from video_files import write_counter_video

    lines = (fixtures_dir / "qvhighlights" / "highlight_val_release.jsonl").read_text().splitlines()
    records, vids = [], set()
    for line in lines:
        record = json.loads(line)
        if record["vid"] not in vids and len(records) < 2:
            records.append(record)
            vids.add(record["vid"])
    (tmp_path / "qv").mkdir()
    (tmp_path / "qv" / "highlight_val_release.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "videos").mkdir()
    for record in records:
        write_counter_video(tmp_path / "videos" / f"{record['vid']}.mp4", count=int(record["duration"]), fps=1)
    out = tmp_path / "out"
    assert main(["benchmark", "qvhighlights", "--params", "params.yaml", "-S", "model.preset=tiny", "--annotations",
                 str(tmp_path / "qv"), "--videos", str(tmp_path / "videos"), "--checkpoint", str(tiny_checkpoint),
                 "--out", str(out)]) == 0
    result = json.loads((out / "qvhighlights.json").read_text())
    assert set(result["items"]["values"]) == {str(r["qid"]) for r in records}
    assert set(json.loads((out / "metrics.json").read_text())) == {"qvhighlights"}
    predicted = [json.loads(x) for x in (out / "predictions" / "qvhighlights.json").read_text().splitlines()]
    assert [len(p["pred_saliency_scores"]) for p in predicted] == [75, 75]  # int(150 / 2) clips each


def test_benchmark_runs_the_zero_shot_segmentation_on_a_copy_of_breakfast(tiny_checkpoint, fixtures_dir, tmp_path,
                                                                          in_checkout):
    """One Breakfast test video (its native 15 fps labels, mapping and split bundle) with a real H.264 file of
    its length; SIL is the background that fills the frames no caption covers."""
    from video_files import write_counter_video

    video = "P04_cam01_P04_tea"
    labels = (fixtures_dir / "breakfast" / "groundTruth" / f"{video}.txt").read_text().split()
    copy = tmp_path / "breakfast"
    (copy / "groundTruth").mkdir(parents=True)
    (copy / "groundTruth" / f"{video}.txt").write_text("\n".join(labels) + "\n")
    (copy / "mapping.txt").write_text((fixtures_dir / "breakfast" / "mapping.txt").read_text())
    (copy / "test.split1.bundle").write_text(f"{video}.txt\n")
    (tmp_path / "videos").mkdir()
    write_counter_video(tmp_path / "videos" / f"{video}.mp4", count=len(labels), fps=15)
    out = tmp_path / "out"
    assert main(["benchmark", "breakfast", "--params", "params.yaml", "-S", "model.preset=tiny", "-S",
                 "eval.segmentation_background=[SIL]", "--annotations", str(copy), "--videos", str(tmp_path / "videos"),
                 "--checkpoint", str(tiny_checkpoint), "--out", str(out)]) == 0
    result = json.loads((out / "action_segmentation.json").read_text())
    assert result["num_frames"] == len(labels) and result["background"] == ["SIL"]
    predicted = json.loads((out / "predictions" / "action_segmentation.json").read_text())[video]
    assert len(predicted) == len(labels) and set(predicted) <= set(labels) | {"SIL"}
    # MoF is the share of frames whose label is right: recomputed from the two label lists
    assert result["MoF"] == round(100 * sum(a == b for a, b in zip(predicted, labels)) / len(labels), 2)
