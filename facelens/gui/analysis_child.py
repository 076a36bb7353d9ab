"""The analysis child process: runs ``core.pipeline.run_analysis`` and streams its progress to the GUI.

Why a process and not a thread: the pipeline's decoder, tracker threads, affect stage and HDF5 writer
hold the GIL for long stretches (numpy copies, h5py writes, PyAV frame conversion, Python glue between
mediapipe calls). In a ``QThread`` of the GUI process every such stretch stalls the event loop; a
benchmark saw 295 ms. A child process has its own interpreter and GIL, so the GUI only pays for
unpickling one small message per batch.

This module imports no Qt: ``multiprocessing``'s *spawn* start method imports it in a fresh interpreter.

Messages sent through the pipe (tuples, first item the kind):

* ``("progress", done, total, rate, eta_s, columns)`` — ``columns`` only those the live view draws;
* ``("done", results_path)``, ``("cancelled",)``, ``("failed", one_line_reason)``.
"""
from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.affect.choice import DEFAULT_ESTIMATOR

# The live view (``SessionData.append_batch``) reads only these; the rest of a batch (expressions,
# emotions, boxes…) is in the results file and need not be pickled across the process boundary.
LIVE_COLUMNS = ("time_s", "valence", "arousal", "quality", "landmarks", "rotation", "translation", "scale")

# Below-normal priority for the child: on a busy machine the interactive GUI should win the CPU
# for its few milliseconds per event; the analysis loses almost nothing by it.
CHILD_NICE = 5


@dataclass(frozen=True)
class ChildJob:
    """What the child needs (picklable): the same fields as ``analysis.AnalysisJob``."""

    video: str
    out: str
    device: str = "auto"
    fps: float = 10.0
    resume: bool = False
    demo: bool = False
    va: str = DEFAULT_ESTIMATOR
    reconstruction: str = "fit"


def live_columns(partial: dict[str, Any]) -> dict[str, np.ndarray]:
    """The columns of one batch that the live view needs, as contiguous arrays."""
    return {k: np.ascontiguousarray(partial[k]) for k in LIVE_COLUMNS if k in partial}


def one_line(exc: BaseException) -> str:
    """An exception as one line for the user (its first line, or its type's name)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def child_main(job: ChildJob, conn: Connection, cancel_event: Any) -> None:
    """Entry point of the child process (target of ``multiprocessing.Process``)."""
    try:
        os.nice(CHILD_NICE)
    except (AttributeError, OSError):  # not on this platform / not permitted: run at normal priority
        pass
    try:
        _run(job, conn, cancel_event)
    except (BrokenPipeError, EOFError):  # the GUI went away: nothing to report to
        pass
    finally:
        conn.close()


def _run(job: ChildJob, conn: Connection, cancel_event: Any) -> None:
    try:
        from facelens.core.analysis.pipeline import AnalysisCancelled, run_analysis
    except Exception as exc:  # noqa: BLE001
        conn.send(("failed", f"the analysis pipeline is not available: {one_line(exc)}"))
        return
    kwargs: dict[str, Any] = {"fps": job.fps, "device": job.device, "resume": job.resume,
                              "va": job.va, "reconstruction": job.reconstruction, "cancel": cancel_event.is_set}
    if job.demo:
        kwargs["demo"] = True
    try:
        for p in run_analysis(Path(job.video), Path(job.out), **kwargs):
            conn.send(("progress", int(p.done), int(p.total), float(p.rate), float(p.eta_s),
                       live_columns(dict(p.partial or {}))))
        conn.send(("done", str(job.out)))
    except AnalysisCancelled:
        conn.send(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - becomes the session's "failed: reason"
        traceback.print_exc()  # the full story for the log; the user sees one line
        conn.send(("failed", one_line(exc)))
