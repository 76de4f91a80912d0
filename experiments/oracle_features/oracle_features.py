"""Oracle frame features of the sample corpus: what each frame shows, written as clean one-hot attributes.

A diagnostic for training recipes, not a feature extractor. Each frame's vector marks the attributes of the
event it falls in: the colour, shape and motion of every shape in it (``colour:red``, ``shape:circle``,
``motion:upward``; 3 per shape that shows it, so two shapes moving upward give 6), or the real clip a shot is
cut from (``clip:bikes.mp4``); every other dimension is 0. The
files keep the frame encoder's width and frame times, so every stage, ``momentor predict`` and the evaluators
read them in place of the real features. A recipe that cannot ground test queries on these features will not
ground them on an encoder's either: the features are then not what limits it.

    python -m momentor.data.oracle_features data/sample work/features/<key> /tmp/oracle/work/features/<key>

copies the feature folder's ``index.parquet`` and ``encoder.json`` and writes one oracle file per video.

Legend: m frames, f feature width.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from momentor.data.features import _save_atomic, load_features
from momentor.data.sample_corpus import ANNOTATIONS

SCALE = 3.0  # per shape showing an attribute (frame_norm rescales the projected token anyway)


def event_attributes(event: dict) -> list[str]:
    """The attribute names of one sample-corpus event."""
    if event["kind"] == "clip":
        return [f"clip:{event['clip']}"]
    out = []
    for instance, motion in zip(event["instances"], event["motions"]):
        colour, shape = instance.split(" ", 1)
        out += [f"colour:{colour}", f"shape:{shape}", f"motion:{motion}"]
    return out


def attribute_names(annotation: dict) -> list[str]:
    """Every attribute of the corpus, in first-seen order (one feature dimension each)."""
    names: dict[str, None] = {}
    for video in annotation["videos"]:
        for event in video["events"]:
            names.update(dict.fromkeys(event_attributes(event)))
    return list(names)


def event_at(events: list[dict], t: float) -> dict:
    """The event whose span holds time t (the nearest one for a time in no span)."""
    for event in events:
        if event["start"] <= t <= event["end"]:
            return event
    return min(events, key=lambda e: min(abs(t - e["start"]), abs(t - e["end"])))


def oracle_frames(video: dict, times: torch.Tensor, width: int, names: list[str]) -> torch.Tensor:
    """Oracle features (m, f) of one video at the given frame times."""
    if len(names) > width:
        raise ValueError(f"the corpus has {len(names)} attributes; the features have only {width} dimensions")
    index = {name: i for i, name in enumerate(names)}
    out = torch.zeros(len(times), width)
    for row, t in enumerate(times.tolist()):
        for name in event_attributes(event_at(video["events"], t)):
            out[row, index[name]] += SCALE
    return out


def write_oracle_features(sample_dir: str | Path, feature_dir: str | Path, out_dir: str | Path) -> dict:
    """Write oracle features for every video of ``feature_dir`` that the sample corpus annotates."""
    annotation = json.loads((Path(sample_dir) / ANNOTATIONS).read_text())
    feature_dir, out_dir = Path(feature_dir), Path(out_dir)
    if feature_dir.resolve() == out_dir.resolve():
        raise ValueError(
            f"write oracle features to another folder than {feature_dir}: they would replace the real ones"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("index.parquet", "encoder.json"):
        if (feature_dir / name).exists():
            shutil.copy2(feature_dir / name, out_dir / name)
    names = attribute_names(annotation)
    written = []
    for video in annotation["videos"]:
        source = feature_dir / f"{video['video_id']}.safetensors"
        if not source.exists():
            continue
        features, times = load_features(source)
        oracle = oracle_frames(video, times, features.shape[1], names)
        _save_atomic(
            out_dir / source.name, oracle, times.numpy().astype(np.float32), {"oracle": "sample-corpus"}
        )
        written.append(video["video_id"])
    return {"videos": len(written), "attributes": names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sample_dir", help="the sample corpus folder (with annotations.json)")
    parser.add_argument("feature_dir", help="a feature folder of that corpus (work/features/<key>)")
    parser.add_argument("out_dir", help="where the oracle feature folder goes")
    args = parser.parse_args(argv)
    summary = write_oracle_features(args.sample_dir, args.feature_dir, args.out_dir)
    print(
        f"oracle features of {summary['videos']} videos, {len(summary['attributes'])} attributes, in {args.out_dir}"
    )


if __name__ == "__main__":
    main()
