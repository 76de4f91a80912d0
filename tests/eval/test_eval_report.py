"""`momentor evaluate` and `momentor report` end to end: metrics/plots files for DVC, the HTML page."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest
from eval_files import write_json, write_jsonl

from momentor.cli import main
from momentor.eval import figures, report, tasks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the verbs read params.yaml from the project root


def _charades_predictions(fixtures_dir, path: Path, shift: float) -> Path:
    from momentor.eval import grounding

    queries = grounding.load_ground_truth(fixtures_dir / "charades_sta" / "charades_sta_test.txt")
    return write_jsonl(
        path,
        [
            {
                "query_id": q.query_id,
                "video_id": q.video_id,
                "pred_windows": [
                    [q.windows[0][0] + shift, q.windows[0][1] + shift, 0.9],
                    [0.0, q.duration, 0.1],
                ],
            }
            for q in queries
        ],
    )


def test_evaluate_writes_result_metrics_and_plot(fixtures_dir, tmp_path, in_root):
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    pred = _charades_predictions(fixtures_dir, tmp_path / "pred.jsonl", shift=0.0)
    metrics = write_json(tmp_path / "metrics.json", {"qvhighlights": {"brief": {"MR-full-mAP": 1.0}}})
    code = main(
        [
            "evaluate",
            "grounding",
            "--gt",
            str(gt),
            "--pred",
            str(pred),
            "--out",
            str(tmp_path / "g.json"),
            "--metrics",
            str(metrics),
            "--plots",
            str(tmp_path / "plots"),
            "-S",
            "eval.iou_thresholds=[0.1, 0.5]",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "g.json").read_text())
    assert result["R1@0.5"] == 100.0 and result["gt_windows_past_end"] == 562
    combined = json.loads(metrics.read_text())
    # merged, not replaced; the per-item scores stay in the task's own result file
    assert set(combined) == {"qvhighlights", "grounding"}
    assert combined["grounding"] == {k: v for k, v in result.items() if k != "items"}
    assert len(result["items"]["values"]) == result["num_queries"]
    assert (
        "iou_thresholds" in metrics.with_suffix(".config.yaml").read_text()
    )  # the resolved config beside it
    with (tmp_path / "plots" / "grounding.csv").open() as f:
        assert list(csv.DictReader(f)) == [{"iou": "0.1", "R1": "100.0"}, {"iou": "0.5", "R1": "100.0"}]


def test_evaluate_reports_bad_input_without_a_traceback(fixtures_dir, tmp_path, in_root, capsys):
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    pred = write_jsonl(tmp_path / "p.jsonl", [{"query_id": "nope", "video_id": "x", "pred_windows": []}])
    assert main(["evaluate", "grounding", "--gt", str(gt), "--pred", str(pred)]) == 1
    err = capsys.readouterr().err
    assert "momentor evaluate:" in err and "not in the ground truth: nope" in err


def test_report_page_is_self_contained(fixtures_dir, tmp_path, in_root):
    gt = fixtures_dir / "charades_sta" / "charades_sta_test.txt"
    pred = _charades_predictions(fixtures_dir, tmp_path / "pred.jsonl", shift=1.0)
    metrics = tmp_path / "metrics.json"
    assert (
        main(["evaluate", "grounding", "--gt", str(gt), "--pred", str(pred), "--metrics", str(metrics)]) == 0
    )
    # the champion as momentor rescore-champion leaves it, and a baseline
    scores = tmp_path / "champion-scores"
    write_json(scores.mkdir() or scores / "champion.json", {"champion": "c", "release": "r1", "predictions": "reused"})
    write_json(scores / "grounding.json", {"R1@0.5": 50.0, "mIoU": 90.0})
    (tmp_path / "baselines" / "random").mkdir(parents=True)
    write_json(tmp_path / "baselines" / "random" / "grounding.json", {"R1@0.5": 9.0, "mIoU": 15.0})
    logs = []
    for stage, steps in (("gesm", range(1, 5)), ("instruct", range(1, 9))):
        logs += ["--train-log", str(write_jsonl(tmp_path / f"{stage}.jsonl",
                                                [{"step": s, "loss": 3.0 / s, "stage": stage} for s in steps]))]
    out = tmp_path / "report.html"
    code = main(["report", "--metrics", str(metrics), "--champion-results", str(scores), "--baseline-results",
                 str(tmp_path / "baselines"), "--timeline", "grounding", str(gt), str(pred), *logs, "--out", str(out),
                 "-S", "eval.report_samples=2"])
    assert code == 0
    page = re.sub(r">\s+<", "><", out.read_text())
    ours = json.loads(metrics.read_text())["grounding"]
    assert (f'<td>R1@0.5</td><td>{ours["R1@0.5"]:.2f}</td><td class="muted">50.00</td>'
            f'<td class="up">{ours["R1@0.5"] - 50:+.2f}</td><td class="muted">9.00</td>') in page
    assert f"{ours['mIoU'] - 90.0:+.2f}" in page and "Stages: gesm, instruct." in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # two timelines and the training curve
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "http" not in page  # nothing fetched from elsewhere


def test_the_rejection_report_says_which_check_failed_and_by_how_much():
    from momentor import config
    from momentor.eval import gate
    from momentor.eval.items import items_block

    def result(hits):
        return {"items": items_block("grounding", [f"q{i}" for i in range(40)],
                                     [100.0 if i < hits else 0.0 for i in range(40)], "fp")}

    decision = gate.decide({"grounding": {"R1@0.5": 5.0}}, {"grounding": result(2)}, {"random": {"grounding": result(4)}},
                           None, config.load(None, []).gate)
    page = re.sub(r">\s+<", "><", report.render({"grounding": {"R1@0.5": 5.0}}, decision=decision))
    failed = next(c for c in decision["reasons"] if c["verdict"] == "fail")
    assert "REJECTED" in page and "<b>grounding R1@0.5 baseline:random</b>" in page
    assert f"(short by {failed['shortfall']:.2f} points)" in page
    assert "<td>random</td><td>10.00</td>" in page and "<td>candidate</td><td>5.00</td>" in page
    assert "No champion scored on this split" in page


def test_training_log_csv_and_lanes(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("step,loss,stage,lr,samples_per_s,val_loss\n1,2.5,gesm,0.001,4.0,\n2,,gesm,0.001,,\n"
                   "3,2.0,instruct,0.002,5.0,2.2\n")
    assert figures.read_training_log(log) == [
        {"step": 1, "loss": 2.5, "stage": "gesm", "lr": 0.001, "samples_per_s": 4.0},
        {"step": 3, "loss": 2.0, "stage": "instruct", "lr": 0.002, "samples_per_s": 5.0, "val_loss": 2.2},
    ]
    # loss (with validation), learning rate and throughput: three panels side by side
    import io

    from PIL import Image

    with_all = Image.open(io.BytesIO(base64.b64decode(figures.training_curve_png(figures.read_training_log(log)))))
    loss_only = Image.open(io.BytesIO(base64.b64decode(figures.training_curve_png(
        [{"step": 1, "loss": 2.5, "stage": "gesm"}]))))
    assert with_all.width > 1.3 * loss_only.width
    # overlapping segments go to separate lanes, touching ones share a lane
    assert figures.lanes([(0, 10, ""), (5, 15, ""), (10, 20, ""), (16, 18, "")]) == [0, 1, 0, 1]


def test_plot_rows_of_each_task():
    dvc = {"per_tiou": {"0.3": {"CIDEr": 1.0, "METEOR": 2.0}}}
    assert tasks.plot_rows("dense_captioning", dvc) == [{"tiou": 0.3, "CIDEr": 1.0, "METEOR": 2.0}]
    assert tasks.plot_rows("action_segmentation", {"MoF": 1.0, "F1@10": 5.0}) == [{"overlap": 10, "F1": 5.0}]
    assert tasks.flatten({"a": {"b": 1, "c": "x", "d": True, "e": None}}) == {"a.b": 1.0}
