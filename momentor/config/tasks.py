"""The instruction task types of Moment-10M (docs/method.md): one list for the config, the manifest and
the engine."""

#: 5 single-segment then 3 cross-segment task types, in the paper's order.
TASK_TYPES = (
    "segment_captioning",
    "segment_qa",
    "instance_qa",
    "direct_segment_localization",
    "inferential_segment_localization",
    "composite_segment_retrieval",
    "instance_activity_summarization",
    "cross_segment_qa",
)
#: The GESM event sequence, the pretraining "task".
GESM = "gesm"
