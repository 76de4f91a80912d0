import torch

from momentor.config import ModelConfig
from momentor.model.builders import build_model
from momentor.model.momentor import collate
from momentor.model.prompt import FRAME, IGNORE, TIME, TIME_LABEL, VID_END, VID_START

CONV = [
    {"from": "human", "value": "<video>\nWhat happens between <t=2.5> and <t=7.0>, and after <t=1.0>?"},
    {"from": "gpt", "value": "A ball rolls from <t=3.25> to <t=6.0>."},
]


def test_video_slot_and_timestamps_in_text_order(tiny_model):
    enc = tiny_model.prompts.encode(CONV)
    ids = enc.input_ids
    assert ids.count(FRAME) == 16 and ids.count(VID_START) == 1 and ids.count(VID_END) == 1
    assert ids.index(VID_START) + 17 == ids.index(VID_END)
    assert [t for i, t in zip(ids, enc.times) if i == TIME] == [2.5, 7.0, 1.0, 3.25, 6.0]
    # prompt timestamps are inputs only; answer timestamps are temporal targets
    time_labels = [lab for i, lab in zip(ids, enc.labels) if i == TIME]
    assert time_labels == [IGNORE, IGNORE, IGNORE, TIME_LABEL, TIME_LABEL]


def test_only_the_answer_is_supervised(tiny_model):
    enc = tiny_model.prompts.encode(CONV)
    supervised = [i for i, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE]
    text = tiny_model.tokenizer.decode([i for i in supervised if i >= 0])
    assert text == "A ball rolls from  to .<|im_end|>"


def test_placeholder_embeddings_are_filled_in_text_order(tiny_model):
    enc = tiny_model.prompts.encode(CONV)
    batch = collate([enc], [torch.randn(16, 32)], [10.0], tiny_model.tokenizer.pad_token_id)
    tables = tiny_model.tables()
    emb = tiny_model.embed(batch, tables)[0]
    slots = (batch.input_ids[0] == TIME).nonzero().flatten()
    for slot, t in zip(slots, [2.5, 7.0, 1.0, 3.25, 6.0]):
        p = t / 10.0 * 15
        k = int(p)
        expected = (1 - (p - k)) * tables[0][k] + (p - k) * tables[0][min(k + 1, 15)]
        torch.testing.assert_close(emb[slot], expected)
    torch.testing.assert_close(emb[batch.input_ids[0] == VID_START][0], tiny_model.boundary[0])


def test_text_baseline_writes_seconds_as_text():
    model = build_model(ModelConfig(preset="tiny", timestamps="text"))
    enc = model.prompts.encode(CONV)
    assert TIME not in enc.input_ids
    decoded = model.tokenizer.decode([i for i in enc.input_ids if i >= 0])
    assert "between 2.5 s and 7.0 s" in decoded and "from 3.2 s to 6.0 s" in decoded
    assert not model.use_temporal_tokens
    batch = collate([enc], [torch.randn(16, 32)], [10.0], model.tokenizer.pad_token_id)
    assert model(batch)["num_time_targets"] == 0
