"""Face tracking: mediapipe's 478-point face mesh per sampled frame, with quality flags.

``FaceTracker.process`` is called once per sampled frame, in order (the tracker keeps state:
mediapipe's own landmark tracking and the identity of the primary face). Each call returns a
:class:`~facelens.core.common.types.FaceObservation`:

* ``NO_FACE`` — mediapipe found no face.
* ``MULTIPLE_FACES`` — several faces; one *primary* face is kept consistently (the face nearest the
  previous primary face's centre when one lies within ``reacquire_radius`` face widths, else the
  largest) and the frame stays usable.
* ``LOW_CONFIDENCE`` — the mesh is not trustworthy: the face is occluded (a hand, an object) or the
  landmark model is unsure. mediapipe's FaceMesh solution exposes no per-frame score, so the
  tracker asks for a second opinion: the landmark model runs once more on the mirrored face, on
  the tracked face's region mirrored (no detector); mapped back, the two meshes agree closely on
  a visible face and disagree where the model guesses behind an occluder.
  ``confidence = clip(1 - D / (2 * disagreement_at_half), 0, 1)`` from the lower-face
  disagreement ``D``; no face found in the mirrored region gives 0 (:mod:`.quality`).
  ``occlusion_method="detect"`` is the earlier test (a static FaceMesh, detector + model, on the
  mirrored crop; 6.3 vs 4.5 CPU ms per check, Wolfgang clip, one run at load 10).
* ``MOTION_BLUR`` — the face crop, resized to ``blur_size`` pixels square and divided by its local
  contrast, has too little fine detail in its least sharp direction: the measure is below
  ``blur_threshold`` (:func:`.quality.blur_measure`).

Cost (``benchmarks/tracking_speed.py``): a second opinion costs about as much as the tracking
mesh itself (CPU ms per frame on this busy 2-core machine: ~4.5 each), and a
FaceMesh graph asked for several faces runs its face detector on *every* frame while it sees fewer
faces than that (~2 ms). Two schedules keep the flags at a fraction of that cost (video mode only;
``static=True`` checks every image):

* Occlusion: the mirror check runs when the track starts or its primary face changes; then every
  ``occlusion_every_clear``-th frame while the last measured confidence is at least
  ``clear_above``, every ``occlusion_every``-th frame below that, every ``recheck_every``-th frame
  (2) while it is below ``recheck_below`` (at 10 fps an occlusion builds up over several frames and
  the confidence sinks through these bands first) and on the ``recheck_after_flag`` frames after a
  flagged one (occlusions last many frames). ``recheck_every`` was 1 until this round; 2 saves a
  third of the checks on the shared clips and changes the flag of 3.9 % of their frames, where the
  confidence flips around the threshold (docs/expressions.md). Frames in between carry the last measured confidence, so an
  occlusion's onset is flagged at most ``occlusion_every_clear - 1`` frames late. The bands were
  chosen with the detector-driven test by replaying its every-frame confidences of the four test
  clips (Wolfgang 197 sampled frames with 48 flagged, single_face 24/0, liveportrait_d3 118/2,
  noface_face 24 faces/0): the defaults flagged exactly the same frames with 47 % of the checks;
  every 4th frame without the bands missed 11 of 48. A lower-face appearance-change cue
  (normalised 8x16 thumbnail difference) added no hits in that replay and was left out.
* Face count (``count_every``): a one-face FaceMesh graph tracks the face (no detector while
  tracking); mediapipe's short-range face detector counts the faces when the track starts and every
  ``count_every``-th frame (the count is carried in between). When it sees two or more, a
  ``max_num_faces`` graph takes over (every frame, primary face chosen as above) until it has seen
  one face on ``_SWITCH_BACK`` frames in a row.

``occlusion_every=1, count_every=1`` gives the every-frame behaviour. Measured in one run with the
detector-driven test (load average 12 on 2 cores), CPU ms per sampled frame, every frame ->
defaults: all four clips 14.8 -> 8.8, single_face 14.5 -> 6.2, Wolfgang (occluded most of the
time) 16.0 -> 11.0, with the same LOW_CONFIDENCE frames and identical landmarks. Caveat: the bands
were tuned on the short clips the tests use; a fast occluder on a clean face is flagged up to
0.7 s late at 10 fps. Where the rest went then (profiled on the Wolfgang clip at load < 1, CPU ms
per sampled frame): the tracking mesh 3.4, the mirror checks 4.1 (their mesh 3.4, pose fits and
crop 0.7), the face count
0.4, the blur measure 0.6 (mostly the INTER_AREA resize; since this round the crop is turned grey
first, and the local-contrast measure costs about what the earlier one did, ``benchmarks/blur_measure.py``),
wire-format reading 0.2. mediapipe's
``add_packet_to_input_stream`` costs ~0.04 ms CPU: the frame (contiguous uint8 RGB) is copied once
into an ImageFrame (~0.09 ms) and the graph crops the face region itself; the milliseconds a
profiler shows there are wall time spent retaking the GIL from the pipeline's other threads.
Three things were cut without changing any output: the mirror crop is flipped with
``cv2.flip`` (numpy copied the negative-stride view element by element, ~0.9 ms), the graphs
run without the solution API's per-call namedtuple and message parsing (:class:`.adapter.Graph`),
and the several-face graph is built only when needed.
``EXTREME_POSE`` is decided by :func:`facelens.core.face.geometry.apply_pose_quality`.
mediapipe and OpenCV are imported lazily (the first tracker costs ~0.5 s to start).

Modules: :mod:`.adapter` (the only one that touches mediapipe: graphs, the fast path, the output
wire format), :mod:`.policy` (:class:`FaceTracker`: graphs per frame, the primary face, the
schedules), :mod:`.quality` (occlusion test, blur, the flag rule shared with the torch backend).
"""
from __future__ import annotations

from facelens.core.face.tracking.policy import (
    DEFAULT_CLEAR_ABOVE,
    DEFAULT_COUNT_EVERY,
    DEFAULT_OCCLUSION_EVERY,
    DEFAULT_RECHECK_AFTER_FLAG,
    DEFAULT_RECHECK_BELOW,
    FaceTracker,
)
from facelens.core.face.tracking.quality import (
    BLUR_MEASURE,
    DEFAULT_BLUR_SIZE,
    DEFAULT_BLUR_THRESHOLD,
    DEFAULT_DISAGREEMENT_AT_HALF,
    DEFAULT_MIN_CONFIDENCE,
    bbox_of,
    blur_measure,
    frame_quality,
    gate_settings,
    recorded_gates,
)


__all__ = [
    "BLUR_MEASURE", "DEFAULT_BLUR_SIZE", "DEFAULT_BLUR_THRESHOLD", "DEFAULT_CLEAR_ABOVE", "DEFAULT_COUNT_EVERY",
    "DEFAULT_DISAGREEMENT_AT_HALF", "DEFAULT_MIN_CONFIDENCE", "DEFAULT_OCCLUSION_EVERY",
    "DEFAULT_RECHECK_AFTER_FLAG", "DEFAULT_RECHECK_BELOW", "FaceTracker", "bbox_of", "blur_measure",
    "frame_quality", "gate_settings", "recorded_gates",
]
