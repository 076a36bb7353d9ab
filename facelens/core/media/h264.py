"""H.264 access units that no other frame depends on, found from the packet bytes without decoding.

A picture whose slices all have ``nal_ref_idc == 0`` is never used to predict another picture
(ITU-T H.264, 7.4.1: "nal_ref_idc equal to 0 ... specifies that the content of the NAL unit is
not used to reconstruct reference pictures for inter prediction"), so a decoder that is not fed
its packet decodes every other picture exactly as before. In the shared media about half of the
packets are such pictures (x264's non-reference B-frames); a sampled analysis wants one frame in
2-3, so the chunk decoders skip the non-reference pictures that are not sampled
(:func:`facelens.core.analysis.chunks.iter_chunk`).

Only length-prefixed H.264 (MP4/MOV ``avcC``, the usual camera and phone files) is read; Annex-B
streams and other codecs are decoded whole. A packet counts as disposable only when every NAL
unit in it is a non-IDR slice with ``nal_ref_idc`` 0, an SEI, an access-unit delimiter or filler
data; anything else (parameter sets, IDR pictures, data partitions, a malformed length) keeps it.
"""
from __future__ import annotations

from typing import Any

_SLICE = 1  # coded slice of a non-IDR picture
_DISPOSABLE_KINDS = frozenset({_SLICE, 6, 9, 12})  # + SEI, access-unit delimiter, filler data


def nal_length_size(codec_context: Any) -> int | None:
    """Bytes of the length prefix of each NAL unit (1, 2 or 4), or ``None`` where packets are not
    length-prefixed H.264 (another codec, Annex-B start codes, no ``avcC`` record)."""
    if getattr(codec_context, "name", None) != "h264":
        return None
    extra = codec_context.extradata
    if not extra or len(extra) < 7 or extra[0] != 1:  # avcC starts with configurationVersion 1
        return None
    size = (extra[4] & 0x03) + 1
    return size if size in (1, 2, 4) else None


def is_disposable(data: bytes | memoryview, length_size: int) -> bool:
    """Whether the access unit ``data`` (length-prefixed NAL units) is a non-reference picture."""
    view = memoryview(data)
    end, i, slices = len(view), 0, 0
    while i < end:
        if i + length_size > end:
            return False
        size = int.from_bytes(view[i:i + length_size], "big")
        i += length_size
        if size <= 0 or i + size > end:
            return False
        head = view[i]
        kind, ref_idc = head & 0x1F, (head >> 5) & 0x03
        if kind not in _DISPOSABLE_KINDS or (kind == _SLICE and ref_idc):
            return False
        slices += kind == _SLICE
        i += size
    return slices > 0
