"""Slow cross-check: our dense-captioning scores against pycocoevalcap's own classes, driven the way
ActivityNet's densevid_eval (v2) and the PDVC SODA script drive them: one PTBTokenizer, Meteor and Cider
call per video and tIoU, and SODA's recursive DP. Runs on 25 YouCook2 videos with perturbed predictions
(three without any prediction), against one reference file and against two (densevid pools a prediction's
pairs over the files; PDVC averages the SODA_c of each file). About a minute each (two METEOR JVMs).
"""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
from eval_files import write_json

from momentor.eval import dense_captioning as dc

pytestmark = pytest.mark.slow


def _iou(pred, gt):
    intersection = max(0, min(gt[1], pred[1]) - max(gt[0], pred[0]))
    union = min(max(gt[1], pred[1]) - min(gt[0], pred[0]), gt[1] - gt[0] + pred[1] - pred[0])
    return float(intersection) / (union + 1e-8)


def _reference(references: list[dict], pred: dict) -> dict:
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    ascii_only = dc.remove_nonascii
    meteor, scores = Meteor(), {"METEOR": [], "CIDEr": []}
    videos = list(dict.fromkeys(v for gt in references for v in gt))
    for tiou in dc.TIOUS:
        res, gts, per_video, k = {}, {}, {v: [] for v in videos}, 0
        for video in videos:
            for p in pred.get(video, []):
                matches = [
                    s
                    for gt in references
                    if video in gt
                    for t, s in zip(gt[video]["timestamps"], gt[video]["sentences"])
                    if _iou(p["timestamp"], t) >= tiou
                ]
                for ref in matches or ["".join(random.choice(string.ascii_lowercase) for _ in range(15))]:
                    res[k], gts[k] = [{"caption": ascii_only(p["sentence"])}], [{"caption": ascii_only(ref)}]
                    per_video[video].append(k)
                    k += 1
        res, gts = PTBTokenizer().tokenize(res), PTBTokenizer().tokenize(gts)
        for name, scorer in (("METEOR", meteor), ("CIDEr", Cider())):
            values = [
                scorer.compute_score({i: gts[i] for i in ids}, {i: res[i] for i in ids})[0] if ids else 0.0
                for ids in per_video.values()
            ]
            scores[name].append(np.mean(values))
    return {
        "METEOR": 100 * np.mean(scores["METEOR"]),
        "CIDEr": 100 * np.mean(scores["CIDEr"]),
        "SODA_c": 100 * np.mean([_soda_c(gt, pred, meteor) for gt in references]),
    }


def _soda_c(gt: dict, pred: dict, meteor) -> float:
    """SODA_c against one reference file, F averaged over its videos (PDVC's eval_soda per file)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    ascii_only = dc.remove_nonascii
    f = []
    for video in gt:
        events = pred.get(video, [])
        if not events:
            f.append(0.0)
            continue
        truth = sorted(zip(gt[video]["timestamps"], gt[video]["sentences"]), key=lambda x: x[0][0])
        guess = sorted(((e["timestamp"], e["sentence"]) for e in events), key=lambda x: x[0][0])
        captions = {i: [{"caption": ascii_only(s)}] for i, (_, s) in enumerate(truth + guess)}
        tokens = PTBTokenizer().tokenize(captions)
        hyp = {j: tokens[len(truth) + j] for j in range(len(guess))}
        matrix = np.array(
            [meteor.compute_score({j: tokens[i] for j in hyp}, hyp)[1] for i in range(len(truth))]
        )
        iou = np.array([[_iou(p, t) for p, _ in guess] for t, _ in truth])
        best = _recursive_dp(iou * matrix)
        p, r = best / len(guess), best / len(truth)
        f.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
    return float(np.mean(f))


def _recursive_dp(scores: np.ndarray) -> float:
    """SODA's memoised recursion, as its paper's repository writes it."""
    dp = -np.ones(scores.shape)

    def best(i, j):
        if dp[i, j] >= 0:
            return dp[i, j]
        up = best(i - 1, j) if i else -1
        left = best(i, j - 1) if j else -1
        diagonal = (best(i - 1, j - 1) if i and j else 0) + scores[i, j]
        dp[i, j] = max(up, left, diagonal)
        return dp[i, j]

    return best(scores.shape[0] - 1, scores.shape[1] - 1)


def _youcook2(fixtures_dir) -> dict:
    truth = dc.load_ground_truth(fixtures_dir / "youcook2" / "val_gt.json")
    return {
        v: {"timestamps": e.timestamps.tolist(), "sentences": e.sentences}
        for v, e in list(truth.items())[:25]
    }


def _perturbed(gt: dict) -> dict:
    rng = np.random.default_rng(1)
    every = [s for v in gt.values() for s in v["sentences"]]
    pred = {}
    for video, events in list(gt.items())[:-3]:
        pred[video] = []
        for (start, end), sentence in zip(events["timestamps"], events["sentences"]):
            if rng.random() < 0.2:
                continue
            jitter = (end - start) / 3
            words = sentence.split()[: max(1, int(len(sentence.split()) * rng.random()))]
            words += every[rng.integers(len(every))].split()[: int(rng.integers(0, 4))]
            window = [
                round(float(start + rng.normal(0, jitter)), 1),
                round(float(end + rng.normal(0, jitter)), 1),
            ]
            pred[video].append({"timestamp": window, "sentence": " ".join(words) + "."})
        pred[video].append({"timestamp": [0.0, 5.0], "sentence": "the video starts, with a título screen."})
    return pred


def test_matches_pycocoevalcap_driven_like_densevid_eval(fixtures_dir, tmp_path, meteor):
    gt = _youcook2(fixtures_dir)
    pred = _perturbed(gt)
    ours = dc.evaluate_files(
        write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "p.json", {"results": pred}), meteor
    )
    reference = _reference([gt], pred)
    assert ours["videos_without_prediction"] == 3
    for name in ("METEOR", "CIDEr", "SODA_c"):
        assert ours[name] == round(reference[name], 2), name


def test_two_reference_files_match_pycocoevalcap_driven_like_densevid_eval(fixtures_dir, tmp_path, meteor):
    first = _youcook2(fixtures_dir)
    pred = _perturbed(first)
    # a second annotation: shifted windows and other wording for 20 of the videos, plus two videos of its own
    # (one of them predicted with its own events)
    rng = np.random.default_rng(2)
    second = {}
    for video, events in list(first.items())[:20]:
        second[video] = {
            "timestamps": [[round(s + float(rng.normal(0, 3)), 1), round(e + float(rng.normal(0, 3)), 1)]
                           for s, e in events["timestamps"]][::-1],
            "sentences": [" ".join(s.split()[::-1]) for s in events["sentences"]][::-1],
        }
    events = first[list(first)[0]]
    second["own0"], second["own1"] = events, first[list(first)[1]]
    pred["own0"] = [
        {"timestamp": t, "sentence": c} for t, c in zip(events["timestamps"], events["sentences"])
    ]
    ours = dc.evaluate_files(
        [write_json(tmp_path / "a.json", first), write_json(tmp_path / "b.json", second)],
        write_json(tmp_path / "p.json", {"results": pred}),
        meteor,
    )
    reference = _reference([first, second], pred)
    assert (ours["num_videos"], ours["videos_without_prediction"]) == (27, 4)
    for name in ("METEOR", "CIDEr", "SODA_c"):
        assert ours[name] == round(reference[name], 2), name
    del pred["own0"]  # a prediction for a video of neither file is an error
    alone = dc.evaluate_files(tmp_path / "a.json", write_json(tmp_path / "p1.json", {"results": pred}),
                              meteor)
    assert alone["METEOR"] != ours["METEOR"] and alone["SODA_c"] != ours["SODA_c"]
