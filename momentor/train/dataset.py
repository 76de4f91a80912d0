"""Training examples of a stage, read from the manifest and the cached frame features.

| stage | examples |
|---|---|
| ``align`` | one clip-caption pair per event: the event cut out as a video of its own, and its caption |
| ``gesm`` | the ``gesm`` instructions: every event as ``<t=s> ~ <t=e>: caption``, in order |
| ``instruct`` | the instructions of the 8 task types |

Only the ``train`` split is read. Examples whose video has no feature file (no video file, or quarantined
by ``momentor features``) are left out and counted. Conversations are tokenised when a batch is made, so
memory holds the instruction table and not its token ids (Moment-10M has 10.4M instructions); features are
read from their safetensors files on first use and kept.

Legend: b batch, m frames, f feature width.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from momentor.data.features import load_features
from momentor.data.manifest import TASKS, read_table, table_path
from momentor.model.momentor import Batch, collate
from momentor.model.prompt import FRAME, Encoded, PromptEncoder
from momentor.train.clips import clip_features, training_events

log = logging.getLogger(__name__)

STAGE_TASKS = {"gesm": ("gesm",), "instruct": tuple(t for t in TASKS if t != "gesm")}
ALIGN_QUESTION = "Describe what happens in the video."
# tables whose content decides a stage's examples (hashed into the data version)
STAGE_TABLES = {
    "align": ("videos", "segments"),
    "gesm": ("videos", "instructions"),
    "instruct": ("videos", "instructions"),
}


@dataclass(frozen=True)
class Example:
    video_id: str
    conversations: str  # JSON list of {"from", "value"} turns
    duration: float  # s
    parts: tuple = ()  # an event clip's events (momentor.train.clips.Part); () for a whole video

    @property
    def sources(self) -> list[str]:
        """The videos whose frames the example shows."""
        return [p.video_id for p in self.parts] or [self.video_id]


def caption_sentence(caption: str) -> str:
    caption = caption.strip().rstrip(".")
    return caption[:1].upper() + caption[1:] + "."


def align_examples(manifest_dir: str | Path, split: str = "train") -> list[Example]:
    """One clip-caption pair per event of the split's videos (the method's modality alignment).

    The event is cut out of its video and shown as a video of its own (its frames resampled to M from the
    cached features: an event clip, :mod:`momentor.train.clips`), with the question "Describe what happens in the video."
    and its caption as the answer: no timestamps, so the stage trains the projection to show the LLM what the
    frames hold. Pairs per event and not per video: a video's captions in order are one example per video
    (34 on the sample corpus), its events are three times as many, each with a single answer.
    """
    turns = [{"from": "human", "value": f"<video>\n{ALIGN_QUESTION}"}]
    return [
        Example(
            part.video_id,
            json.dumps(turns + [{"from": "gpt", "value": caption_sentence(part.caption)}]),
            part.length,
            (part,),
        )
        for video in training_events(manifest_dir, split)
        for part in video
    ]


def stage_examples(
    manifest_dir: str | Path,
    stage: str,
    split: str = "train",
    tasks: list[str] | None = None,
    repeats: dict[str, int] | None = None,
) -> list[Example]:
    """The examples of ``stage`` in ``split`` (manifest order, which the data engine keeps stable).

    ``tasks`` replaces the stage's own task types (``train.<stage>.tasks``), e.g. the 8 types plus ``gesm``
    so that instruction tuning keeps rehearsing the event-sequence format. ``repeats`` (``train.<stage>.
    task_repeats``) counts each example of a task type that many times per epoch (a type with few examples,
    like the one GESM sequence per video, is otherwise drowned out).
    """
    if stage == "align":
        if tasks:
            raise ValueError("train.align.tasks: the align stage reads segments, not instructions; leave it null")
        return align_examples(manifest_dir, split)
    videos = read_table(manifest_dir, "videos")
    videos = videos[videos["split"] == split]
    if stage not in STAGE_TASKS:
        raise ValueError(f"unknown training stage {stage!r}; use align, gesm or instruct")
    for key, given in (("tasks", tasks or ()), ("task_repeats", repeats or {})):
        unknown = sorted(set(given) - set(TASKS))
        if unknown:
            raise ValueError(f"train.{stage}.{key}: unknown task types {unknown}; use some of {', '.join(TASKS)}")
    rows = read_table(manifest_dir, "instructions")
    rows = rows[(rows["split"] == split) & rows["task"].isin(tasks or STAGE_TASKS[stage])]
    if repeats:
        rows = rows.loc[rows.index.repeat(rows["task"].map(repeats).fillna(1).astype(int))]
    durations = dict(zip(videos["video_id"], videos["duration"]))
    rows = rows[rows["video_id"].isin(durations)]
    return [
        Example(str(v), str(c), float(durations[v])) for v, c in zip(rows["video_id"], rows["conversations"])
    ]


def data_version(manifest_dir: str | Path, feature_dir: str | Path, stage: str) -> dict[str, str]:
    """Content hashes (sha256) of every file a stage's examples come from: its manifest tables and the
    feature index. A checkpoint records them; resuming on changed data is refused."""
    files = [table_path(manifest_dir, name) for name in STAGE_TABLES[stage]] + [
        Path(feature_dir) / "index.parquet"
    ]
    version = {}
    for file in files:
        digest = hashlib.sha256()
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        version[file.name] = digest.hexdigest()
    return version


class FeatureStore:
    """Frame features (m, f) of each video, read once from ``<feature_dir>/<video_id>.safetensors``."""

    def __init__(self, folder: str | Path, num_frames: int):
        self.folder, self.num_frames = Path(folder), num_frames
        self._cache: dict[str, torch.Tensor] = {}

    def has(self, video_id: str) -> bool:
        return video_id in self._cache or (self.folder / f"{video_id}.safetensors").exists()

    def __getitem__(self, video_id: str) -> torch.Tensor:
        if video_id not in self._cache:
            features, _ = load_features(self.folder / f"{video_id}.safetensors")  # (m, f)
            if features.shape[0] != self.num_frames:
                raise ValueError(
                    f"features of {video_id} in {self.folder} have {features.shape[0]} frames, the model "
                    "takes "
                    f"{self.num_frames}; re-run `momentor features` with the same model settings"
                )
            self._cache[video_id] = features
        return self._cache[video_id]

    def of(self, example: Example) -> torch.Tensor:
        """The frames (m, f) an example shows: its video's, or its event clip's."""
        if example.parts:
            return clip_features(example.parts, self, self.num_frames)
        return self[example.video_id]


def truncate(encoded: Encoded, max_length: int) -> Encoded | None:
    """Cut a sequence to ``max_length`` tokens at the end; None when the cut would reach the video slots."""
    if len(encoded.input_ids) <= max_length:
        return encoded
    last_frame = max(i for i, t in enumerate(encoded.input_ids) if t == FRAME)
    if last_frame + 2 >= max_length:  # the frames, <vid_end> and at least one answer token must fit
        return None
    return Encoded(encoded.input_ids[:max_length], encoded.labels[:max_length], encoded.times[:max_length])


class StageDataset:
    """A stage's examples with their features, made into batches on demand."""

    def __init__(
        self, examples: list[Example], features: FeatureStore, prompts: PromptEncoder, max_length: int
    ):
        kept = [e for e in examples if all(features.has(v) for v in e.sources)]
        self.missing_features = len(examples) - len(kept)
        if self.missing_features:
            log.warning(
                "%d of %d examples have no frame features in %s and are left out; run `momentor features` "
                "(videos it could not decode are listed in the manifest's quarantine.jsonl)",
                self.missing_features,
                len(examples),
                features.folder,
            )
        self.examples, self.features, self.prompts, self.max_length = kept, features, prompts, max_length
        self.truncated = 0

    def __len__(self) -> int:
        return len(self.examples)

    def encode(self, example: Example) -> Encoded:
        encoded = self.prompts.encode(example.conversations)
        cut = truncate(encoded, self.max_length)
        if cut is None:
            raise ValueError(
                f"a conversation of video {example.video_id} needs more than "
                f"train.max_length={self.max_length} "
                f"tokens before its answer; raise train.max_length"
            )
        self.truncated += cut is not encoded
        return cut

    def batch(self, indices: list[int], pad_id: int) -> Batch:
        """The collated batch of examples ``indices`` (features (b, m, f))."""
        chosen = [self.examples[i] for i in indices]
        return collate(
            [self.encode(e) for e in chosen],
            [self.features.of(e) for e in chosen],
            [e.duration for e in chosen],
            pad_id,
        )
