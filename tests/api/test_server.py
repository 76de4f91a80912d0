"""``momentor serve``: real HTTP requests to a running server (uvicorn) holding a real tiny model."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from momentor import Momentor
from momentor.config.serving import ServeConfig
from momentor.serve.app import create_app
from momentor.serve.limits import Busy, Slots


@pytest.fixture(scope="module")
def server(tiny_checkpoint, running_server):
    settings = ServeConfig(max_upload_mb=0.5, concurrency=2, queue=8)
    with running_server(create_app(tiny_checkpoint, settings)) as running:
        running.wait_ready()
        yield running


def _post(server, path, video, **form):
    name, data = video
    return httpx.post(f"{server.url}{path}", files={"video": (name, data, "video/mp4")}, data=form, timeout=120)


@pytest.fixture(scope="module")
def clip(corpus_video):
    return corpus_video.name, corpus_video.read_bytes()


def test_health_ready_and_model(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}
    info = httpx.get(f"{server.url}/v1/model").json()
    assert info["preset"] == "tiny"


def test_answers_equal_the_python_api(server, clip, corpus_video, tiny_checkpoint):
    model = Momentor.from_pretrained(tiny_checkpoint)
    grounding = _post(server, "/v1/grounding", clip, query="a red circle moves")
    assert grounding.status_code == 200
    assert grounding.json()["windows"] == [w.__dict__ for w in model.ground(corpus_video, "a red circle moves")]
    captions = _post(server, "/v1/captions", clip)
    assert captions.status_code == 200
    assert captions.json()["events"] == [e.__dict__ for e in model.caption(corpus_video)]
    asked = _post(server, "/v1/ask", clip, question="What happens?").json()
    assert (asked["answer"], asked["timestamps"]) == model.ask(corpus_video, "What happens?")
    highlights = _post(server, "/v1/highlights", clip, query="a red circle moves")
    expected = model.highlights(corpus_video, "a red circle moves")
    assert highlights.status_code == 200 and highlights.json()["saliency"] == expected.saliency
    assert len(expected.saliency) == int(model.features(corpus_video)[1] // 2)  # one score per 2 s clip
    labels = ["a red circle moves", "a blue square moves"]
    segments = _post(server, "/v1/segments", clip, labels=json.dumps(labels))
    assert segments.status_code == 200
    assert segments.json()["segments"] == [s.__dict__ for s in model.segment(corpus_video, labels)]
    assert {s["label"] for s in segments.json()["segments"]} <= {*labels, "background"}


def test_several_requests_at_once_all_answer_the_same(server, clip):
    answers, barrier = [None] * 4, threading.Barrier(4)

    def send(i):
        barrier.wait()
        answers[i] = _post(server, "/v1/grounding", clip, query="a red circle moves")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json() == answers[0].json() for a in answers)


@pytest.mark.parametrize("path, form, named", [
    ("/v1/grounding", {"query": ""}, "query"),
    ("/v1/grounding", {}, "query"),
    ("/v1/grounding", {"query": "x" * 1001}, "query"),
    ("/v1/segments", {"labels": "pour milk"}, "labels 'pour milk': send a JSON list"),
    ("/v1/segments", {"labels": "[]"}, "JSON list of non-empty strings"),
])
def test_bad_fields_get_422_naming_them(server, clip, path, form, named):
    response = _post(server, path, clip, **form)
    assert response.status_code == 422
    assert named in json.dumps(response.json())


def test_a_video_that_does_not_decode_gets_422_naming_it(server):
    response = _post(server, "/v1/captions", ("holiday.mp4", b"this is not a video\n" * 50))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("holiday.mp4: ") and "video" in detail


def test_a_missing_video_gets_422(server):
    response = httpx.post(f"{server.url}/v1/captions", data={"query": "x"})
    assert response.status_code == 422 and "video" in json.dumps(response.json())


def test_an_oversized_upload_gets_413_declared_or_streamed(server):
    big = b"\0" * 600_000  # over the 0.5 MB limit
    declared = _post(server, "/v1/captions", ("big.mp4", big))
    assert declared.status_code == 413 and "limit of 0.5 MB" in declared.json()["detail"]
    boundary = "momentorboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"big.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()

    def chunks():  # no Content-Length: the server counts as the body streams
        for start in range(0, len(body), 64_000):
            yield body[start:start + 64_000]

    streamed = httpx.post(f"{server.url}/v1/captions", content=chunks(),
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"}, timeout=60)
    assert streamed.status_code == 413 and "serve.max_upload_mb" in streamed.json()["detail"]
    assert httpx.get(f"{server.url}/readyz").status_code == 200  # and the server goes on


def test_not_ready_until_the_model_loads_and_a_model_that_fails_says_why(running_server, tmp_path):
    loaded = threading.Event()

    def slow_load(source):
        loaded.wait(30)
        raise FileNotFoundError(f"{source} is not a model")

    with running_server(create_app(tmp_path / "nothing", ServeConfig(), load=slow_load)) as running:
        assert httpx.get(f"{running.url}/healthz").status_code == 200
        loading = httpx.get(f"{running.url}/readyz")
        assert loading.status_code == 503 and loading.json() == {"status": "loading"}
        refused = httpx.post(f"{running.url}/v1/captions", files={"video": ("a.mp4", b"x")})
        assert refused.status_code == 503 and refused.headers["retry-after"]
        loaded.set()
        for _ in range(100):
            failed = httpx.get(f"{running.url}/readyz").json()
            if failed["status"] == "failed":
                break
            threading.Event().wait(0.05)
        assert failed["status"] == "failed" and "is not a model" in failed["error"]


def test_slots_bound_concurrency_and_refuse_past_the_queue():
    async def scenario():
        slots, release, order = Slots(concurrency=1, queue=1), asyncio.Event(), []

        async def hold(name):
            async with slots.take():
                order.append(name)
                await release.wait()

        first = asyncio.create_task(hold("first"))
        await asyncio.sleep(0)
        second = asyncio.create_task(hold("second"))  # waits: the one queue place
        await asyncio.sleep(0)
        with pytest.raises(Busy, match="1 answers in progress and 1 waiting"):
            async with slots.take():
                pass
        release.set()
        await asyncio.gather(first, second)
        return order, slots.waiting

    assert asyncio.run(scenario()) == (["first", "second"], 0)


def test_serve_takes_the_champions_model_by_default(tmp_path):
    from momentor import config as config_lib
    from momentor.serve.commands import model_source

    cfg = config_lib.from_dict({"paths": {"work": str(tmp_path)}})
    assert model_source(cfg, None) == tmp_path / "champion"  # none yet: readyz will say it is not a model
    (tmp_path / "champion" / "model").mkdir(parents=True)
    assert model_source(cfg, None) == tmp_path / "champion" / "model"
    assert model_source(cfg, str(tmp_path / "champion")) == tmp_path / "champion" / "model"  # the chart's --model
    assert str(model_source(cfg, "elsewhere")) == "elsewhere"


def test_a_promotion_reaches_the_running_server_without_a_restart(tiny_checkpoint, running_server, tmp_path,
                                                                   corpus_video):
    """Serving the champion, the server loads the new release when the champion's link moves, and answers
    throughout; a release that cannot load leaves the old model serving and says why."""
    import os
    import time

    import torch

    from momentor.model import checkpoint, pretrained

    releases = tmp_path / "champion.releases"
    pretrained.release(tiny_checkpoint, releases / "a" / "model")
    model, cfg = checkpoint.load(tiny_checkpoint, with_encoder=False)
    with torch.no_grad():
        for tensor in model.trainable_parameters().values():
            tensor.mul_(-1.0)  # another model: answers differ
    checkpoint.save(model, cfg, tmp_path / "other")
    pretrained.release(tmp_path / "other", releases / "b" / "model")
    (releases / "broken" / "model").mkdir(parents=True)
    champion = tmp_path / "champion"

    def point(release: str) -> None:  # as promotion swaps it: one rename of a new link
        os.symlink(f"champion.releases/{release}", tmp_path / "link")
        os.replace(tmp_path / "link", champion)

    def wait_for(release: str, key: str = "loaded_from") -> dict:
        deadline = time.monotonic() + 120
        while True:
            info = httpx.get(f"{running.url}/v1/model").json()
            if release in str(info[key] or ""):
                return info
            assert time.monotonic() < deadline, info
            time.sleep(0.1)

    point("a")
    with running_server(create_app(champion / "model", ServeConfig(reload_seconds=0.2))) as running:
        running.wait_ready()
        wait_for("/a/")
        clip = (corpus_video.name, corpus_video.read_bytes())
        first = _post(running, "/v1/ask", clip, question="What happens?").json()
        point("b")
        info = wait_for("/b/")
        assert info["reload_error"] is None
        second = _post(running, "/v1/ask", clip, question="What happens?").json()
        expected = Momentor.from_pretrained(releases / "b" / "model").ask(corpus_video, "What happens?")
        assert (second["answer"], second["timestamps"]) == expected and second != first
        point("broken")
        info = wait_for("broken", key="reload_error")
        assert "/b/" in info["loaded_from"] and "is neither a checkpoint" in info["reload_error"]
        assert _post(running, "/v1/ask", clip, question="What happens?").json() == second  # b still serves
