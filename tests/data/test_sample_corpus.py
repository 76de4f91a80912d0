import hashlib
import itertools
import json

import numpy as np
import pytest

from momentor.config import SampleCorpusConfig
from momentor.data.decode import probe_video, sample_frames
from momentor.data.sample_corpus import ANNOTATIONS, assign_splits, build_sample_corpus, plan_video
from momentor.data.sample_render import BACKGROUNDS, COLOURS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    cfg = SampleCorpusConfig(seed=0, num_videos=4, size=64, fps=8)
    folder = tmp_path_factory.mktemp("corpus") / "sample"
    return cfg, folder, build_sample_corpus(cfg, folder)


def test_events_tile_the_video_and_match_the_file(corpus):
    cfg, folder, annotation = corpus
    assert json.loads((folder / ANNOTATIONS).read_text()) == annotation
    for video in annotation["videos"]:
        events = video["events"]
        assert cfg.min_events <= len(events) <= cfg.max_events
        assert events[0]["start"] == 0 and events[-1]["end"] == video["duration"]
        assert all(a["end"] == b["start"] and a["start"] < a["end"] for a, b in itertools.pairwise(events))
        info = probe_video(folder / video["file"])
        assert info.duration == pytest.approx(video["duration"]) == video["num_frames"] / cfg.fps
        assert (info.width, info.height, info.fps) == (cfg.size, cfg.size, cfg.fps)


def test_queries_answer_exactly_one_event(corpus):
    cfg, _, annotation = corpus
    for video in annotation["videos"]:
        windows = {(e["start"], e["end"]) for e in video["events"]}
        assert len(video["queries"]) == cfg.queries_per_event * len(video["events"])
        for query in video["queries"]:
            assert tuple(query["window"]) in windows
        texts = [q["text"] for q in video["queries"]]
        assert len(set(texts)) == len(texts)  # no phrasing is shared by two events
        assert len({e["caption"] for e in video["events"]}) == len(video["events"])


def test_what_is_seen_tells_the_events_of_a_video_apart():
    # every rendered event has a lead shape that no other event of its video shows; the companion recurs
    cfg = SampleCorpusConfig()
    recurring = 0
    for index in range(cfg.num_videos):  # plans only: no pixels
        events = [e for e in plan_video(cfg, index) if e["kind"] == "rendered"]
        labels = [{a.label for a in e["actors"]} for e in events]
        for k, own in enumerate(labels):
            others = set().union(*(labels[:k] + labels[k + 1 :]))
            assert own - others, (index, k)
            recurring += bool(own & others)
        moves = [(a.label, a.motion) for e in events for a in e["actors"]]
        assert len(set(moves)) == len(moves)  # a recurring actor does something new each time
    assert recurring >= 20  # the instance tasks get actors that span several events


def test_pixels_match_the_ground_truth(corpus):
    # every rendered event shows its background at the frame corner, and each track's box holds its colour
    cfg, folder, annotation = corpus
    checked = 0
    for video in annotation["videos"]:
        frames, _ = sample_frames(folder / video["file"], video["num_frames"])  # every frame, in order
        tracks = {t["label"]: dict(zip(t["times"], t["boxes"])) for t in video["tracks"]}
        for event in video["events"]:
            if event["kind"] != "rendered":
                continue
            f = round((event["start"] + event["end"]) / 2 * cfg.fps)
            background = np.array(BACKGROUNDS[event["background"]], float)
            row = round(0.02 * cfg.size)  # the gradient is close to the base colour near the middle row only
            corner = frames[f, cfg.size // 2, row].astype(float)
            assert np.abs(corner - background).max() < 40
            for label in event["instances"]:
                x0, y0, x1, y1 = tracks[label][f / cfg.fps]
                cx, cy = round((x0 + x1) / 2 * cfg.size), round((y0 + y1) / 2 * cfg.size)
                colour = np.array(COLOURS[label.split()[0]], float)
                assert np.abs(frames[f, cy, cx].astype(float) - colour).max() < 40, (video["video_id"], label)
                checked += 1
    assert checked > 0


def test_real_clip_events_show_the_clip(corpus):
    cfg, folder, annotation = corpus
    clips = [(v, e) for v in annotation["videos"] for e in v["events"] if e["kind"] == "clip"]
    assert clips, "seed 0 has real-clip events in its first 4 videos"
    video, event = clips[0]
    frames, _ = sample_frames(folder / video["file"], video["num_frames"])
    f = round((event["start"] + event["end"]) / 2 * cfg.fps)
    assert frames[f].std() > 20 and event["clip"].endswith(".mp4")  # textured, not a flat rendered scene


def test_same_seed_same_bytes_and_video_k_independent_of_count(tmp_path, corpus):
    cfg, folder, annotation = corpus
    again = build_sample_corpus(cfg.model_copy(update={"num_videos": 2}), tmp_path / "again")

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for video in again["videos"]:
        assert digest(tmp_path / "again" / video["file"]) == digest(folder / video["file"])
        first = next(v for v in annotation["videos"] if v["video_id"] == video["video_id"])
        assert {k: v for k, v in video.items() if k != "split"} == {
            k: v for k, v in first.items() if k != "split"
        }
    other = plan_video(cfg.model_copy(update={"seed": 1}), 0)
    assert other != plan_video(cfg, 0)


def test_splits_follow_the_fractions():
    splits = assign_splits(48, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=0)
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (34, 7, 7)
    assert splits == assign_splits(48, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=0)


def test_bad_queries_per_event_or_event_count_is_refused(tmp_path):
    with pytest.raises(ValueError, match="queries_per_event"):
        build_sample_corpus(SampleCorpusConfig(num_videos=1, queries_per_event=9), tmp_path / "x")
    with pytest.raises(ValueError, match="max_events=7.*colour of its own"):
        build_sample_corpus(SampleCorpusConfig(num_videos=1, max_events=7), tmp_path / "x")


@pytest.mark.slow
def test_full_corpus_has_hundreds_of_queries(tmp_path):
    cfg = SampleCorpusConfig()
    annotation = build_sample_corpus(cfg, tmp_path / "sample")
    queries = sum(len(v["queries"]) for v in annotation["videos"])
    assert len(annotation["videos"]) == cfg.num_videos and queries >= 300
    kinds = {e["kind"] for v in annotation["videos"] for e in v["events"]}
    assert kinds == {"rendered", "clip"}
