import av
import numpy as np
import pytest
from video_files import frame_index, make_broken_videos

from momentor.data import decode
from momentor.data.decode import DecodeError, probe_video, sample_frames, sample_times


def test_sample_times_include_both_ends():
    times = sample_times(3.0, 4)
    np.testing.assert_allclose(times, [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        sample_times(3.0, 1)


def test_frames_are_the_ones_on_screen_at_each_time(counter_video):
    # 24 frames at 8/s: T = 3 s; t = 0, 0.6, ..., 3.0 show frames floor(t * 8), and t = T the last frame
    frames, times = sample_frames(counter_video, 6)
    assert frames.dtype == np.uint8 and frames.shape == (6, 32, 32, 3)
    np.testing.assert_allclose(times, np.linspace(0, 3, 6))
    assert [frame_index(f) for f in frames] == [0, 4, 9, 14, 19, 23]


def test_seeking_gives_the_same_frames_as_decoding_through(tmp_path):
    # a short keyframe interval so that seeks land near their target
    path = tmp_path / "gop.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8, options={"g": "4", "keyint_min": "4"})
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        from video_files import counter_frames

        for image in counter_frames(31):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    through, _ = sample_frames(path, 5, seek_gap_s=100.0)
    seeking, _ = sample_frames(path, 5, seek_gap_s=0.1)
    assert [frame_index(f) for f in seeking] == [frame_index(f) for f in through] == [0, 7, 15, 23, 30]


def test_only_the_sampled_frames_are_converted(counter_video, monkeypatch):
    # memory stays flat in video length: only M frames ever become RGB arrays
    converted = []
    original = decode._to_rgb
    monkeypatch.setattr(decode, "_to_rgb", lambda frame, side: converted.append(1) or original(frame, side))
    sample_frames(counter_video, 3)
    assert len(converted) == 3


def test_short_side_resize_keeps_aspect(tmp_path):
    from momentor.data.sample_render import write_mp4

    path = tmp_path / "wide.mp4"
    write_mp4(path, np.full((4, 32, 64, 3), 100, np.uint8), 8)
    frames, _ = sample_frames(path, 2, short_side=16)
    assert frames.shape == (2, 16, 32, 3)


def test_probe_reads_duration_and_rate(counter_video):
    info = probe_video(counter_video)
    assert info.duration == pytest.approx(3.0)
    assert info.fps == pytest.approx(8.0)
    assert (info.width, info.height) == (32, 32)


def test_stream_without_timestamps_has_unknown_duration(tmp_path):
    # a raw H.264 elementary stream states no duration and its packets have no timestamps
    path = tmp_path / "raw.h264"
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for _ in range(8):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(DecodeError, match="zero or unknown duration") as err:
        probe_video(path)
    assert "remux" in err.value.hint


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("empty", "empty file"),
        ("garbage", "not a readable video container"),
        ("truncated", "not a readable video container"),
    ],
)
def test_bad_files_raise_a_reason_and_a_hint(tmp_path, kind, reason):
    path = make_broken_videos(tmp_path)[kind]
    with pytest.raises(DecodeError, match=reason) as err:
        sample_frames(path, 4)
    assert err.value.hint


def test_cut_mid_stream_is_reported_truncated(tmp_path):
    # moov in front (faststart): the container opens and states 6 s, but the frames stop early
    path = tmp_path / "faststart.mp4"
    from video_files import counter_frames

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for image in np.concatenate([counter_frames(24)] * 2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(DecodeError, match="truncated|decoding failed"):
        probe_video(cut)


def test_missing_file(tmp_path):
    with pytest.raises(DecodeError, match="video file not found"):
        probe_video(tmp_path / "nope.mp4")


def test_real_clip_from_a_package_decodes():
    from momentor import assets

    frames, times = sample_frames(assets.sample_clip("carphone_pristine.mp4"), 4, short_side=32)
    assert frames.shape[0] == 4 and frames.shape[1] == 32
    assert times[-1] == pytest.approx(4.004, abs=1e-3)
    assert frames.std() > 10  # real content, not a blank frame
