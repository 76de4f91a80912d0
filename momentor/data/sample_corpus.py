"""The embedded sample corpus (``momentor sample-data``): real multi-event videos with exact ground truth.

Each video is a sequence of 2-4 events (``data.sample``). An event is either a **rendered scene** (one or
two coloured shapes moving in a named way over a coloured background; their boxes are known in every frame)
or a **shot of a real clip** shipped in a package (street scenes from ``bikes.mp4``, the rabbit of
``bigbuckbunny.mp4``, the man in ``carphone_pristine.mp4``). Consecutive events always look different, so
every boundary is a visible change. Everything is drawn from ``numpy.random.default_rng([seed, index])``:
the same seed gives the same corpus byte for byte, and video ``k`` is the same whatever ``num_videos`` is.

Output, in ``<paths.raw>/sample/``: ``sample_000.mp4`` ... (H.264, ``fps`` frames/s, ``size``² pixels) and
``annotations.json``::

    {"format": "momentor-sample/1", "seed": 0, "fps": 8, "size": 160,
     "videos": [{
        "video_id": "sample_000", "file": "sample_000.mp4", "split": "train",
        "duration": 11.5, "num_frames": 92,          # duration = num_frames / fps
        "events": [{"start": 0.0, "end": 3.25, "caption": "a red circle moves from left to right on a navy
                    background", "kind": "rendered" | "clip", "clip": null | "bikes.mp4",
                    "background": "navy" | null, "instances": ["red circle"], "motions": ["left_to_right"]}],
        "queries": [{"query_id": "sample_000_e0_q1", "event": 0, "text": "...", "window": [0.0, 3.25]}],
        "tracks": [{"track_id": "sample_000_t0", "label": "red circle",
                    "times": [0.0, 0.125, ...], "boxes": [[x0, y0, x1, y1], ...]}]   # fractions in [0, 1]
     }]}

Event ``k`` covers frames [a, b) and the times [a/fps, b/fps]; events tile [0, duration]. Queries are
several phrasings of each event (``queries_per_event``); no two events of a video share a description, so
every query has exactly one answer window. ``momentor ingest`` reads this file like any other source.

Who acts: each rendered event has a **lead**, a shape in a colour that no other event of its video shows,
and half the time the video's **companion** joins it (one more colour; it recurs across events, each time
with a new motion, which gives the instance tasks something to follow). So what is seen tells every event
of a video apart. Before, a video had a cast of three shapes shared by its events, and most queries differed
from another event of their video only in the motion ("moves left" / "moves right" of the same red circle).
A frame encoder that pools each frame into one vector (EfficientNet-Lite0, a CLIP class token) keeps little
of where an object is, so those queries had no answer the cpu preset could see.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from momentor.config import SampleCorpusConfig
from momentor.data.sample_render import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    SHOTS,
    Actor,
    render_event,
    shot_frames,
    write_mp4,
)

FORMAT = "momentor-sample/1"
ANNOTATIONS = "annotations.json"
PHRASINGS = 4  # phrasings per event: the caption and 3 others; queries take the others first

MOTION_WORDS = {
    "left_to_right": ("moves from left to right", "slides across to the right", "travels rightwards"),
    "right_to_left": ("moves from right to left", "slides across to the left", "travels leftwards"),
    "upward": ("rises from the bottom to the top", "moves upward", "floats up the screen"),
    "downward": ("drops from the top to the bottom", "moves downward", "falls down the screen"),
    "diagonal": (
        "moves diagonally to the bottom right",
        "crosses the screen diagonally",
        "slides to the lower right",
    ),
    "bounce": ("bounces up and down", "hops up and down twice", "jumps up and down in the middle"),
    "circle": ("circles around the centre", "moves in a circle", "travels along a round path"),
    "grow": ("grows larger in the centre", "gets bigger", "expands in the middle of the screen"),
    "shrink": ("shrinks in the centre", "gets smaller", "contracts in the middle of the screen"),
}
SHAPE_WORDS = {
    "circle": ("circle", "disc", "ball"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle", "triangle", "triangular shape"),
    "diamond": ("diamond", "rhombus", "diamond shape"),
}
PAIR_MOTIONS = ("left_to_right", "right_to_left", "upward", "downward", "bounce")  # two actors stay apart


def _describe(actors: list[Actor], variant: int) -> str:
    """One actor clause per actor in wording ``variant`` (0 = the caption's)."""
    clauses = []
    for a in actors:
        article = ("an" if a.colour[0] in "aeiou" else "a") if variant == 0 else "the"
        clauses.append(
            f"{article} {a.colour} {SHAPE_WORDS[a.shape][variant]} {MOTION_WORDS[a.motion][variant]}"
        )
    return " while ".join(clauses)


def rendered_phrasings(actors: list[Actor], background: str) -> list[str]:
    """The caption (first) and the query phrasings of a rendered event."""
    return [
        f"{_describe(actors, 0)} on a {background} background",
        _describe(actors, 0),
        f"the moment when {_describe(actors, 1)}",
        f"the part where {_describe(actors, 2)}",
    ]


def _plan_rendered(
    rng: np.random.Generator, lead: tuple[str, str], companion: tuple[str, str], used: set, size: float
) -> list[Actor]:
    """The event's own lead actor, joined half the time by the video's companion (with a motion new to it)."""
    pair = rng.random() < 0.5 and any((companion, m) not in used for m in PAIR_MOTIONS)
    members = [lead, companion] if pair else [lead]
    actors = []
    for k, member in enumerate(members):
        colour, shape = member
        options = [m for m in (PAIR_MOTIONS if pair else MOTION_WORDS) if (member, m) not in used]
        motion = options[int(rng.integers(len(options)))]
        used.add((member, motion))
        lane = (-0.2, 0.2)[k] if pair else 0.0
        actors.append(Actor(colour, shape, motion, size=size * (0.75 if pair else 1.0), lane=lane))
    return actors


def _query_phrasings(phrasings: list[str]) -> list[str]:
    """Queries use the other phrasings first and the caption itself last."""
    return phrasings[1:] + phrasings[:1]


def plan_video(cfg: SampleCorpusConfig, index: int) -> list[dict]:
    """The events of video ``index``: kind, frames count and what is in them (no pixels yet)."""
    rng = np.random.default_rng([cfg.seed, index])
    n_events = int(rng.integers(cfg.min_events, cfg.max_events + 1))
    # a lead colour per event and one for the companion, all different
    colours = rng.choice(list(COLOURS), size=n_events + 1, replace=False)
    cast = [(str(c), str(SHAPES[rng.integers(len(SHAPES))])) for c in colours]
    shots = list(rng.permutation(len(SHOTS)))
    used: set = set()
    events: list[dict] = []
    background = None
    for e in range(n_events):
        if shots and rng.random() < cfg.real_fraction and (not events or events[-1]["kind"] != "clip"):
            events.append({"kind": "clip", "shot": SHOTS[shots.pop()]})
            continue
        background = str(rng.choice([b for b in BACKGROUNDS if b != background]))
        actors = _plan_rendered(rng, cast[e], cast[-1], used, size=float(rng.uniform(0.2, 0.28)))
        num_frames = int(rng.integers(round(2.5 * cfg.fps), round(5 * cfg.fps) + 1))
        events.append(
            {"kind": "rendered", "actors": actors, "background": background, "num_frames": num_frames}
        )
    return events


def build_video(cfg: SampleCorpusConfig, index: int, folder: Path) -> dict:
    """Render and write video ``index`` into ``folder``; return its annotation record."""
    video_id = f"sample_{index:03d}"
    pieces, records, tracks = [], [], {}
    frame = 0
    for e, event in enumerate(plan_video(cfg, index)):
        if event["kind"] == "clip":
            shot = event["shot"]
            frames = shot_frames(shot, cfg.fps, cfg.size)
            phrasings = list(shot.captions)
            record = {"kind": "clip", "clip": shot.clip, "background": None, "instances": [], "motions": []}
        else:
            actors = event["actors"]
            frames, boxes = render_event(actors, event["background"], event["num_frames"], cfg.size)
            phrasings = rendered_phrasings(actors, event["background"])
            record = {
                "kind": "rendered",
                "clip": None,
                "background": event["background"],
                "instances": [a.label for a in actors],
                "motions": [a.motion for a in actors],
            }
            for actor, actor_boxes in zip(actors, boxes):
                track = tracks.setdefault(actor.label, {"times": [], "boxes": []})
                track["times"] += [(frame + f) / cfg.fps for f in range(len(frames))]
                track["boxes"] += [[round(v, 6) for v in box] for box in actor_boxes]
        start, end = frame / cfg.fps, (frame + len(frames)) / cfg.fps
        record.update(start=start, end=end, caption=phrasings[0], phrasings=phrasings)
        records.append(record)
        pieces.append(frames)
        frame += len(frames)
    write_mp4(folder / f"{video_id}.mp4", (image for piece in pieces for image in piece), cfg.fps)
    queries = [
        {"query_id": f"{video_id}_e{e}_q{k}", "event": e, "text": text, "window": [r["start"], r["end"]]}
        for e, r in enumerate(records)
        for k, text in enumerate(_query_phrasings(r.pop("phrasings"))[: cfg.queries_per_event])
    ]
    return {
        "video_id": video_id,
        "file": f"{video_id}.mp4",
        "duration": frame / cfg.fps,
        "num_frames": frame,
        "events": records,
        "queries": queries,
        "tracks": [
            {"track_id": f"{video_id}_t{k}", "label": label, **track}
            for k, (label, track) in enumerate(tracks.items())
        ],
    }


def assign_splits(num_videos: int, fractions: dict[str, float], seed: int) -> list[str]:
    """A split per video: a seeded permutation cut by the fractions (rounded; the last split takes the rest)."""
    order = np.random.default_rng([seed, 10**6]).permutation(num_videos)
    names = list(fractions)
    counts = [round(fractions[n] * num_videos) for n in names[:-1]]
    counts.append(num_videos - sum(counts))
    splits = [""] * num_videos
    cut = 0
    for name, count in zip(names, counts):
        for i in order[cut : cut + count]:
            splits[i] = name
        cut += count
    return splits


def build_sample_corpus(cfg: SampleCorpusConfig, out_dir: str | Path, num_videos: int | None = None) -> dict:
    """Build the corpus into ``out_dir`` (replaced only when the whole build succeeded); return the annotation."""
    if not 1 <= cfg.queries_per_event <= PHRASINGS:
        raise ValueError(f"data.sample.queries_per_event={cfg.queries_per_event}: use 1..{PHRASINGS}")
    if not 1 <= cfg.min_events <= cfg.max_events < len(COLOURS):
        raise ValueError(
            f"data.sample.min_events={cfg.min_events}, max_events={cfg.max_events}: use 1 <= min_events <= "
            f"max_events <= {len(COLOURS) - 1} (each event has a colour of its own, plus the companion's)"
        )
    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    n = cfg.num_videos if num_videos is None else num_videos
    splits = assign_splits(n, cfg.splits, cfg.seed)
    videos = []
    for index in range(n):
        record = build_video(cfg, index, partial)
        videos.append(
            {"video_id": record.pop("video_id"), "file": record.pop("file"), "split": splits[index], **record}
        )
    annotation = {"format": FORMAT, "seed": cfg.seed, "fps": cfg.fps, "size": cfg.size, "videos": videos}
    (partial / ANNOTATIONS).write_text(json.dumps(annotation, indent=1) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return annotation
