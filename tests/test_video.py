"""Session reading: sampling by presentation time, VFR/HEVC, rotation, images, random access, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.media.video import VideoError, open_media


def _write_video(path, frames, fps=10, rotation=None, codec="libx264"):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        if rotation is not None:
            s.set_display_rotation(rotation)
        for img in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_sampling_count_and_times_cfr(media):
    with open_media(media / "videos/pyfeat_single_face.mp4") as s:
        assert (s.info.width, s.info.height, s.info.native_fps) == (640, 360, 30.0)
        frames = list(s.iter_sampled(10.0))
        assert len(frames) == s.n_sampled(10.0) == 24
        np.testing.assert_allclose([f.time_s for f in frames], np.arange(24) / 10, atol=1e-9)
        assert [f.frame_index for f in frames] == list(range(0, 72, 3))
        assert [f.index for f in frames] == list(range(24))
        assert frames[0].rgb.shape == (360, 640, 3) and frames[0].rgb.dtype == np.uint8


def test_sampling_takes_latest_frame_not_after_target(media):
    # 23.976 fps: frames every 1001/24000 s; target 0.1 s takes the frame at 0.0834 s, not 0.125 s.
    with open_media(media / "videos/pyfeat_WolfgangLanger_Pexels.mp4") as s:
        frames = list(s.iter_sampled(10.0))
    times = np.array([f.time_s for f in frames])
    assert len(frames) == 197
    assert times[1] == pytest.approx(2 * 1001 / 24000)
    assert np.all(np.diff(times) > 0)
    for f in frames:  # each sampled frame is the latest native frame at or before some k/10
        k = np.ceil(f.time_s * 10 - 1e-9)
        assert f.time_s <= k / 10 < f.time_s + 1001 / 24000 + 1e-9


def test_vfr_hevc_mov_times(media):
    with open_media(media / "videos/pyfeat_noface_face.mov") as s:
        assert s.info.codec == "hevc" and (s.info.width, s.info.height) == (960, 540)
        assert s.info.n_frames == 169
        all_frames = list(s.iter_sampled(fps=1000.0))  # far above the native rate: every frame once
        frames = list(s.iter_sampled(10.0))
    assert len(all_frames) == 169
    assert all_frames[-1].time_s == pytest.approx(6.345, abs=1e-3)
    assert [f.frame_index for f in all_frames] == list(range(169))
    times = np.array([f.time_s for f in frames])
    assert np.all(np.diff(times) > 0) and len(set(f.frame_index for f in frames)) == len(frames)
    # variable frame rate: sampled times are native times, within one native interval of k/10
    native = np.array([f.time_s for f in all_frames])
    for t in times:
        k = np.ceil(t * 10 - 1e-9)
        nxt = native[native > t]
        assert t <= k / 10 and (len(nxt) == 0 or nxt[0] > k / 10)


def test_frame_at_matches_sampled_frames(media):
    with open_media(media / "videos/pyfeat_WolfgangLanger_Pexels.mp4") as s:
        frames = list(s.iter_sampled(10.0))
        rng = np.random.default_rng(0)
        picks = list(rng.choice(len(frames), 12, replace=False)) + [0, len(frames) - 1]
        for i in picks:  # random order: exercises seeking backwards and forwards
            got = s.frame_at(frames[i].time_s)
            assert got.time_s == frames[i].time_s
            assert np.array_equal(got.rgb, frames[i].rgb)
        # between two samples, frame_at gives the latest native frame at or before t
        mid = s.frame_at(frames[50].time_s + 0.01)
        assert frames[50].time_s <= mid.time_s <= frames[50].time_s + 0.01


def test_start_index_resumes_the_same_sequence(media):
    with open_media(media / "videos/liveportrait_d3.mp4") as s:
        full = list(s.iter_sampled(10.0))
        tail = list(s.iter_sampled(10.0, start_index=40))
    assert [f.index for f in tail] == list(range(40, len(full)))
    assert all(np.array_equal(a.rgb, b.rgb) and a.time_s == b.time_s for a, b in zip(full[40:], tail))


def test_image_is_one_frame_session(media):
    with open_media(media / "images/pyfeat_happy_single_face.jpg") as s:
        assert s.info.is_image and s.n_sampled(10.0) == 1
        frames = list(s.iter_sampled())
        assert len(frames) == 1 and frames[0].time_s == 0.0
        assert frames[0].rgb.shape == (562, 572, 3)
        assert np.array_equal(s.frame_at(3.0).rgb, frames[0].rgb)


def test_rotation_metadata_makes_frames_upright(tmp_path):
    img = np.zeros((48, 64, 3), np.uint8)
    img[:16, :16] = 255  # a white block in the top-left corner
    path = tmp_path / "rot.mp4"
    _write_video(path, [img] * 5, rotation=90)  # display matrix: rotate 90° counter-clockwise
    with open_media(path) as s:
        assert s.info.rotation_deg == 90 and (s.info.width, s.info.height) == (48, 64)
        rgb = next(iter(s.iter_sampled())).rgb
    assert rgb.shape == (64, 48, 3)
    assert rgb[56, 8].mean() > 200 and rgb[8, 8].mean() < 50  # top-left went to bottom-left


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "folder", "truncated_moov", "truncated_data"])
def test_bad_inputs_raise_one_line_video_error(tmp_path, media, kind):
    src = (media / "videos/pyfeat_single_face.mp4").read_bytes()  # moov at the end
    path = tmp_path / "bad.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "folder":
        path.mkdir()
    elif kind == "truncated_moov":
        path.write_bytes(src[: len(src) // 2])
    elif kind == "truncated_data":  # moov first (fast start): the sample table outlives the data
        path.write_bytes((media / "videos/pyfeat_WolfgangLanger_Pexels.mp4").read_bytes()[:800_000])
    with pytest.raises(VideoError) as info, open_media(path) as s:
        list(s.iter_sampled())
    assert "\n" not in str(info.value) and str(info.value)
