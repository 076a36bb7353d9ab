"""Decoding skips H.264 pictures that are neither sampled nor referenced, and nothing else changes.

The chunk decoders leave out such packets (``facelens.core.media.h264``); the frames they do
decode must equal the frames of a decoder fed every packet, pixel for pixel.
"""
from __future__ import annotations

import av
import numpy as np
import pytest

from facelens.core.analysis import chunks as chunked
from facelens.core.analysis.chunks import iter_chunk, plan_samples
from facelens.core.media import h264
from facelens.core.media.video import open_media


def _nal(kind: int, ref_idc: int, payload: bytes = b"\x88\x84") -> bytes:
    return bytes([(ref_idc << 5) | kind]) + payload


def _au(*nals: bytes, size: int = 4) -> bytes:
    return b"".join(len(n).to_bytes(size, "big") + n for n in nals)


@pytest.mark.parametrize("size", [1, 2, 4])
def test_a_non_reference_slice_is_disposable_with_any_length_prefix(size):
    assert h264.is_disposable(_au(_nal(9, 0), _nal(6, 0), _nal(1, 0), _nal(1, 0), size=size), size)


@pytest.mark.parametrize("nals", [
    (_nal(1, 2),),                 # a reference slice
    (_nal(1, 0), _nal(1, 1)),      # one slice of the picture is a reference
    (_nal(5, 3),),                 # an IDR picture
    (_nal(7, 3), _nal(8, 3), _nal(1, 0)),  # parameter sets travel with the picture
    (_nal(2, 0),),                 # data partitioning: not read, kept
    (_nal(6, 0), _nal(9, 0)),      # no slice at all
])
def test_anything_else_is_kept(nals):
    assert not h264.is_disposable(_au(*nals), 4)


def test_a_malformed_length_keeps_the_packet():
    good = _au(_nal(1, 0))
    assert h264.is_disposable(good, 4)
    assert not h264.is_disposable(good[:-1], 4)  # the length points past the end
    assert not h264.is_disposable(b"\x00\x00\x00\x00" + good, 4)  # a zero length
    assert not h264.is_disposable(good + b"\x00\x00", 4)  # a truncated prefix


def test_only_length_prefixed_h264_is_read(media):
    with av.open(str(media / "videos/pyfeat_single_face.mp4")) as c:
        assert h264.nal_length_size(c.streams.video[0].codec_context) == 4
    with av.open(str(media / "videos/pyfeat_noface_face.mov")) as c:  # HEVC
        assert h264.nal_length_size(c.streams.video[0].codec_context) is None


@pytest.mark.parametrize("rel", ["videos/pyfeat_WolfgangLanger_Pexels.mp4", "videos/pyfeat_single_face.mp4"])
def test_skipping_leaves_the_decoded_frames_unchanged(media, rel, monkeypatch):
    skipped: list[int] = []
    real = chunked._unwanted_reference_free

    def counting(stream, wanted, done):
        rule = real(stream, wanted, done)
        assert rule is not None

        def skip(packet):
            out = rule(packet)
            if out:
                assert int(packet.pts) not in wanted  # a sampled picture is never skipped
                skipped.append(int(packet.pts))
            return out
        return skip

    monkeypatch.setattr(chunked, "_unwanted_reference_free", counting)
    with open_media(media / rel) as s:
        plan = plan_samples(s, 10.0)
        assert plan is not None
        for a, b in plan.chunks(25):
            full = list(iter_chunk(s, plan, a, b, skip_unsampled=False))
            lean = list(iter_chunk(s, plan, a, b))
            assert [(f.index, f.frame_index, f.time_s) for f in lean] == \
                [(f.index, f.frame_index, f.time_s) for f in full]
            assert all(np.array_equal(x.rgb, y.rgb) for x, y in zip(lean, full))
    assert len(skipped) > 0.15 * plan.pts.size  # about a quarter of the pictures are left out
