"""The Python API: a released or trained model, loaded once, answering the paper's tasks on any video.

    from momentor import Momentor

    model = Momentor.from_pretrained("work/champion/model")
    model.ground("video.mp4", "the person opens the door")   # [Window(start, end, score)]
    model.caption("video.mp4")                                # [Event(start, end, text)]
    model.save_pretrained("my-model")                         # config.json, model.safetensors, README.md

A video is a file path, its cached features (:class:`VideoFeatures`), or a frame array (:class:`Frames`).
"""

from momentor.api.results import Event, Highlights, Segment, Window
from momentor.api.video import Frames, VideoFeatures
from momentor.api.model import Momentor

__all__ = ["Event", "Frames", "Highlights", "Momentor", "Segment", "VideoFeatures", "Window"]
