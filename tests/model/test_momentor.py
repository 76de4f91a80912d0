import math

import torch

from momentor.model.generate import generate
from momentor.model.momentor import collate
from momentor.model.prompt import TIME

QUESTION = [{"from": "human", "value": "<video>\nWhen is the red frame?"}]


def _batch(model, answers, durations, m=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    enc = [model.prompts.encode(QUESTION + [{"from": "gpt", "value": a}]) for a in answers]
    feats = [torch.randn(m, model.projection.in_features, generator=g) for _ in answers]
    return collate(enc, feats, durations, model.tokenizer.pad_token_id)


def test_one_step_changes_trainable_and_keeps_frozen_bit_identical(tiny_model):
    frozen = {k: p.detach().clone() for k, p in tiny_model.named_parameters() if not p.requires_grad}
    trainable = {k: p.detach().clone() for k, p in tiny_model.trainable_parameters().items()}
    assert set(trainable) == {"projection.weight", "projection.bias", "temporal.input_table",
                              "temporal.output_table", "boundary"}
    assert any(k.startswith("llm.") for k in frozen) and any(k.startswith("encoder.") for k in frozen)
    opt = torch.optim.AdamW(tiny_model.trainable_parameters().values(), lr=1e-2)
    tiny_model.train()
    loss = tiny_model(_batch(tiny_model, ["<t=1.5> to <t=3.0>", "<t=0.0>"], [8.0, 5.0]))["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    for k, before in trainable.items():
        assert not torch.equal(before, tiny_model.get_parameter(k)), f"{k} did not change"
    for k, before in frozen.items():
        assert torch.equal(before, tiny_model.get_parameter(k)), f"frozen {k} changed"


def test_timestamp_loss_at_grid_points_is_full_cross_entropy(tiny_model):
    # t = 0, t = T and an on-grid time: the target is one class with weight 1 (the released code's r = 0 bug
    # would give these targets no supervision at all)
    for t, k in ((0.0, 0), (15.0, 15), (6.0, 6)):
        batch = _batch(tiny_model, [f"<t={t}>"], [15.0])
        out = tiny_model(batch)
        tables = tiny_model.tables()
        emb = tiny_model.embed(batch, tables)
        hidden = tiny_model.decoder(inputs_embeds=emb, attention_mask=batch.attention_mask).last_hidden_state
        slot = int((batch.input_ids[0] == TIME).nonzero()[-1])
        logp = torch.log_softmax(tiny_model.head(hidden[0, slot - 1], tables).float(), -1)
        torch.testing.assert_close(out["time_loss"], -logp[tiny_model.vocab_size + k])
        assert out["time_loss"] > 0.5


def test_logits_have_v_plus_n_classes(tiny_model):
    hidden = torch.randn(3, tiny_model.projection.out_features)
    assert tiny_model.head(hidden, tiny_model.tables()).shape == (3, tiny_model.vocab_size + 16)


def _red_frame_videos(model, n, g, m=16):
    """Real frames through the (tiny, frozen) encoder: grey noise with one red frame."""
    feats, durations, truths = [], [], []
    for _ in range(n):
        duration = float(torch.empty(1).uniform_(8, 30, generator=g))
        red = int(torch.randint(0, m, (1,), generator=g))
        frames = torch.randint(60, 140, (m, 32, 32, 3), generator=g, dtype=torch.uint8)
        frames[red] = torch.tensor([220, 20, 20], dtype=torch.uint8)
        feats.append(model.encoder(frames))
        durations.append(duration)
        truths.append(red * duration / (m - 1))
    return feats, durations, truths


def test_tiny_model_learns_when_the_red_frame_is():
    from momentor.config import ModelConfig
    from momentor.model.builders import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(preset="tiny"), seed=0)
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.AdamW(model.trainable_parameters().values(), lr=3e-2)
    model.train()
    losses = []
    for _ in range(100):
        feats, durations, truths = _red_frame_videos(model, 16, g)
        enc = [model.prompts.encode(QUESTION + [{"from": "gpt", "value": f"<t={t:.3f}>"}]) for t in truths]
        out = model(collate(enc, feats, durations, model.tokenizer.pad_token_id))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["time_loss"].detach()))
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    feats, durations, truths = _red_frame_videos(model, 64, g)
    prompt = model.prompts.encode(QUESTION, with_answer=False)
    answers = generate(model, torch.stack(feats), [prompt] * 64, durations, max_new_tokens=4)
    hits = [
        len(a.timestamps) >= 1 and abs(a.timestamps[0] - t) < 0.5 * d / 15
        for a, t, d in zip(answers, truths, durations)
    ]
    assert sum(hits) / len(hits) >= 0.9, answers[:4]
    assert answers[0].text.endswith(" s") and math.isfinite(answers[0].timestamps[0])


def test_frame_norm_puts_frames_at_the_word_embeddings_norm_whatever_the_weights_scale():
    from momentor.config import ModelConfig
    from momentor.model.builders import build_model

    model = build_model(ModelConfig(preset="tiny"), seed=0, with_encoder=False)
    words = model.llm.get_input_embeddings().weight.detach().float().norm(dim=-1).mean()
    feats = torch.randn(2, 16, model.projection.in_features, generator=torch.Generator().manual_seed(0))
    before = model.projection(feats)
    torch.testing.assert_close(before.norm(dim=-1), words.expand(2, 16))
    with torch.no_grad():  # what a high learning rate does to a plain Linear: the scale grows, not the direction
        model.projection.weight.mul_(60.0)
        model.projection.bias.mul_(60.0)
    torch.testing.assert_close(model.projection(feats), before)

    plain = build_model(ModelConfig(preset="tiny", frame_norm=False), seed=0, with_encoder=False)
    torch.testing.assert_close(plain.projection(feats), torch.nn.functional.linear(
        feats, plain.projection.weight, plain.projection.bias))
    assert not torch.allclose(plain.projection(feats).norm(dim=-1), words.expand(2, 16))
