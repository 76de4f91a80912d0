"""The named colours of the sample corpus's shapes, written once: the renderer paints with them
(:mod:`momentor.data.sample_render`) and the engine's colour detector looks for them
(:mod:`momentor.data.engine.detectors`)."""

#: name -> RGB, in the order the renderer draws colours from
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (40, 90, 235),
    "yellow": (240, 215, 40),
    "purple": (160, 60, 210),
    "orange": (245, 140, 30),
    "white": (245, 245, 245),
}
