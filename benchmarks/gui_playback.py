"""GUI speed: playback updates per second, open time, seek latency, event-loop stalls (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_playback.py \
        [RESULTS.h5 VIDEO] [--minutes 30] [--no-analysis] [--stall-only] [--profile] [--texture both]

Without RESULTS/VIDEO it analyses ``../shared/media/videos/pyfeat_WolfgangLanger_Pexels.mp4`` first. A
long session is made from it by repeating its frames up to ``--minutes`` (default 30 = 18,000 sampled
frames at 10 fps; **synthetic**: the same 20 s of real tracking over and over, only to load the views with
the curve lengths of a real 30-minute session). For both sessions it prints, in one run:

* the time to open the session (results file → every view drawn);
* updates/s of the full view (video frame, mesh, valence/arousal cursor, circumplex point) the way the
  application updates it: state change, then one turn of the event loop that paints whatever changed;
  with the 3D face's video texture off and on (``--texture both``, the default: both in the same run);
* complete updates/s, texture off and on: each update waits until the video view shows the new frame
  and the 3D face has been drawn for it (on: in that frame's own texture, decoded in the loader thread,
  cropped, uploaded), over consecutive usable frames;
* sampled frames shown per second in real 1× playback through the ``QTimer`` (10 expected at 10 fps);
* seek latency (state change → mesh rendered and everything painted);
* the longest event-loop stall (a 10-ms ``QTimer`` probe recording the largest gap between its ticks)
  while the open session's video is analysed in the background, twice in the same run: the pipeline in
  a ``QThread`` of the GUI process (the previous design, baseline) and in a child process (ours), the
  long synthetic session open in the window both times. ``--stall-only`` measures only this.

The baseline, measured last in the same run, is the previous design: the VisPy canvas embedded in the
window as a ``QOpenGLWidget``, which makes Qt composite the whole window with OpenGL on every repaint.
``--profile`` prints the top of a cProfile of the long session's playback updates.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_long_session(src: Path, out: Path, minutes: float) -> Path:
    """Repeat ``src``'s frames (at 10 fps spacing) into an ``minutes``-long results file (synthetic)."""
    from facelens.core.results import ResultsWriter, SessionResults

    with SessionResults.open(src) as r:
        n = round(minutes * 60 * 10)
        reps = -(-n // r.n_frames)  # ceiling division
        meta = dict(r.meta)
        for k in ("complete", "n_done", "n_frames", "finished_at", "wall_s"):
            meta.pop(k, None)
        meta["duration_s"] = n / 10.0
        meta.setdefault("notices", [])
        cols = {"time_s": np.arange(n) / 10.0, "frame_index": np.arange(n),
                "quality": np.tile(r.quality, reps)[:n], "n_faces": np.tile(r.n_faces, reps)[:n],
                "valence": np.tile(r.valence, reps)[:n], "arousal": np.tile(r.arousal, reps)[:n],
                "rotation": np.tile(r.rotation, (reps, 1, 1))[:n], "translation": np.tile(r.translation, (reps, 1))[:n],
                "scale": np.tile(r.scale, reps)[:n], "euler": np.tile(r.euler, (reps, 1))[:n]}
        lm = r.landmarks(slice(0, r.n_frames))
        with ResultsWriter(out, meta, expression_names=r.expression_names) as w:
            for a in range(0, n, 1000):
                b = min(a + 1000, n)
                batch = {k: v[a:b] for k, v in cols.items()}
                batch["landmarks"] = lm[np.arange(a, b) % r.n_frames]
                w.append(batch)
            w.finish()
    return out


class Bench:
    """One main window; measurements on whichever session is open."""

    def __init__(self, app: object, tmp: Path) -> None:
        from PySide6.QtCore import QSettings

        from facelens.gui.main_window import MainWindow

        self.app = app
        self.w = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
        self.w.resize(1400, 950)
        self.w.show()
        self.spin(0.3)

    def spin(self, seconds: float) -> None:
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            self.app.processEvents()
            time.sleep(0.002)

    def open(self, results: Path, video: Path) -> float:
        from facelens.core.results import SessionResults
        from facelens.gui.session_data import SessionData
        from facelens.gui.video_view import FrameLoader

        face = self.w.face
        r0 = face.renders
        t0 = time.perf_counter()
        data = SessionData.from_results(SessionResults.open(results), video)
        self.w.review.set_session(data, FrameLoader(video), results.stem)
        self.w.measures.set_results(data.results)
        while face.renders == r0 and time.perf_counter() - t0 < 10:
            self.app.processEvents()  # until the first mesh is on screen and the plots are drawn
        self.app.processEvents()
        return time.perf_counter() - t0

    def updates(self, n: int, step: int = 1, embedded: object = None) -> float:
        """Updates/s: move the playhead one sampled frame, let the event loop paint the changes."""
        d = self.w.review.data
        ts = d.time_s
        t0 = time.perf_counter()
        for k in range(n):
            i = (k * step) % len(ts)
            self.w.review.state.playhead = float(ts[i])
            if embedded is not None:  # baseline: the same mesh on an embedded QOpenGLWidget canvas
                v = d.view_mesh(i)
                embedded.set_face(v)
                embedded.canvas.update()
            self.app.processEvents()
        return n / (time.perf_counter() - t0)

    def set_texture(self, on: bool) -> None:
        self.w.face.texture_box.setChecked(on)
        self.spin(0.2)

    def complete_updates(self, n: int) -> float:
        """Updates/s, each ending with the video view showing the new frame and the face drawn for it (with
        the texture on: in that frame's own texture), over consecutive usable frames."""
        w, face = self.w, self.w.face
        ts, frames = w.review.data.time_s, np.flatnonzero(w.review.data.usable)
        textured = face.texture_box.isChecked()
        t0 = time.perf_counter()
        for k in range(n):
            ft = float(ts[frames[k % len(frames)]])
            w.review.state.playhead = ft
            t_k, r_mesh = time.perf_counter(), None if textured else face.renders
            while time.perf_counter() - t_k < 2.0:
                self.app.processEvents()
                if r_mesh is None and face.scene.texture_time == ft:
                    r_mesh = face.renders  # the texture is on the mesh: the next render shows it
                elif r_mesh is not None and face.renders > r_mesh and w.video.image_time == ft:
                    break
        return n / (time.perf_counter() - t0)

    def real_playback(self, seconds: float = 4.0) -> tuple[float, float]:
        shown: list[float] = []

        def slot(_i: int) -> None:
            shown.append(time.perf_counter())

        rv = self.w.review
        rv.frame_shown.connect(slot)
        rv.home()
        shown.clear()  # only frames shown while playing count
        rv.play()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds and rv.is_playing():
            self.app.processEvents()
            time.sleep(0.001)
        rv.pause()
        dt = time.perf_counter() - t0
        rv.frame_shown.disconnect(slot)
        gaps = np.diff(shown) if len(shown) > 1 else np.zeros(1)
        return len(shown) / dt, float(gaps.max())

    def seeks(self, k: int = 30) -> np.ndarray:
        face = self.w.face
        lat = []
        rng = np.random.default_rng(0)
        for t in rng.uniform(0, self.w.review.data.duration_s, k):
            r0 = face.renders
            t1 = time.perf_counter()
            self.w.review.seek(float(t))
            while face.renders == r0 and time.perf_counter() - t1 < 2:
                self.app.processEvents()
            lat.append(time.perf_counter() - t1)
        return np.asarray(lat)

    def stall_during_analysis(self, video: Path, tmp: Path, in_process: bool,
                              limit_s: float = 90.0) -> tuple[float, float, bool]:
        """Longest and 99th-percentile gap of a 10-ms timer while ``video`` is analysed."""
        from PySide6.QtCore import QTimer

        from facelens.gui.analysis import AnalysisJob, AnalysisWorker, ProcessAnalysisWorker

        stalls: list[float] = []
        last = [time.perf_counter()]

        def beat() -> None:
            now = time.perf_counter()
            stalls.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.timeout.connect(beat)
        timer.start(10)
        done: list[int] = []
        q = self.w.queue
        q.worker_class = AnalysisWorker if in_process else ProcessAnalysisWorker
        q.finished.connect(lambda *a: done.append(1))
        q.failed.connect(lambda *a: done.append(1))
        out = Path(tempfile.mkdtemp(dir=tmp)) / f"bg_{'thread' if in_process else 'process'}.h5"
        q.enqueue(AnalysisJob(99, video, out))
        t_end = time.perf_counter() + limit_s
        while not done and time.perf_counter() < t_end:
            self.app.processEvents()
            time.sleep(0.002)
        timer.stop()
        q.stop_all()
        gaps = np.asarray(stalls[1:] or [0.0])
        return float(gaps.max()), float(np.percentile(gaps, 99)), bool(done)


def stall_pair(b: Bench, video: Path, tmp: Path, repeats: int = 2) -> dict[str, tuple[float, float, bool]]:
    """The stall probe with the pipeline in a thread (baseline) and in a child process (ours),
    alternated ``repeats`` times (the machine's load changes from minute to minute)."""
    rows = {}
    for k in range(repeats):
        for name, in_process in (("QThread in the GUI process (baseline)", True), ("child process (ours)", False)):
            label = f"{name} #{k + 1}"
            print("background analysis:", label, "…", flush=True)
            rows[label] = b.stall_during_analysis(video, tmp, in_process)
            b.spin(1.0)
    return rows


def print_stalls(rows: dict[str, tuple[float, float, bool]]) -> None:
    print("\nevent-loop stalls during a background analysis (10-ms timer probe):")
    for name, (worst, p99, done) in rows.items():
        print(f"  {name:40s} longest {1000 * worst:6.1f} ms, 99th percentile {1000 * p99:5.1f} ms "
              f"({'finished' if done else 'stopped at the time limit'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?")
    ap.add_argument("video", nargs="?")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--no-analysis", action="store_true", help="skip the stall-during-analysis measurement")
    ap.add_argument("--stall-only", action="store_true", help="measure only the stall during an analysis")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--texture", choices=("on", "off", "both"), default="both",
                    help="the 3D face's video texture during the updates/s measurements")
    ap.add_argument("--measures", action="store_true",
                    help="with the measures dock (7 emotion-probability curves) in front of the circumplex")
    args = ap.parse_args()
    import vispy

    vispy.use(app="pyside6")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    repo = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp())
    if args.results and args.video:
        short, video = Path(args.results), Path(args.video)
    else:
        from facelens.core.analysis.pipeline import analyze_to_file

        video = repo.parent / "shared" / "media" / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"
        short = tmp / "bench.h5"
        print("analysing", video.name, "…", flush=True)
        analyze_to_file(video, short, fps=10.0)
    t0 = time.perf_counter()
    long = make_long_session(short, tmp / "long.h5", args.minutes)
    print(f"synthetic {args.minutes:g}-min session written in {time.perf_counter() - t0:.1f} s", flush=True)

    b = Bench(app, tmp)
    if args.measures:
        b.w.top_tabs.setCurrentWidget(b.w.measures)
        print("measures dock in front: emotion probabilities plotted", flush=True)
    rows = {}
    prof_text = ""
    if args.stall_only:
        b.open(long, video)
        stall_rows = stall_pair(b, video, tmp)
        print_stalls(stall_rows)
        b.w.force_quit = True
        return b.w.close()
    modes = {"on": (True,), "off": (False,), "both": (False, True)}[args.texture]
    for name, path in (("short", short), ("long", long)):
        open_s = b.open(path, video)
        n = b.w.review.data.n_frames
        ups, rendered, complete = {}, {}, {}
        for on in modes + modes * (len(modes) > 1):  # both: off, on, off, on (the machine's load drifts)
            b.set_texture(on)
            b.updates(10)
            r0 = b.w.face.renders
            ups.setdefault(on, []).append(b.updates(120))
            rendered[on] = b.w.face.renders - r0
            b.complete_updates(5)
            complete.setdefault(on, []).append(b.complete_updates(60))
        play, gap = b.real_playback()
        lat = b.seeks()
        rows[name] = (n, open_s, ups, rendered, complete, play, gap, lat)
        if args.profile and name == "long":
            pr = cProfile.Profile()
            pr.enable()
            b.updates(100)
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(18)
            prof_text = s.getvalue()
    stall_rows = None
    if not args.no_analysis:
        stall_rows = stall_pair(b, video, tmp)

    # Baseline last: once a QOpenGLWidget is in the window, the window stays GL-composited.
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    from facelens.render.face_mesh import FaceScene

    old = FaceScene(size=(400, 400))
    dock = QDockWidget("3D face (embedded canvas, baseline)", b.w)
    dock.setObjectName("dock_baseline3d")
    dock.setWidget(old.canvas.native)
    b.w.docks["face"].hide()
    b.w.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, dock)
    b.spin(0.5)
    b.updates(10, embedded=old)
    base_long = b.updates(60, embedded=old)
    b.open(short, video)
    b.updates(10, embedded=old)
    base_short = b.updates(60, embedded=old)

    print()
    for name, base in (("short", base_short), ("long", base_long)):
        n, open_s, ups, rendered, complete, play, gap, lat = rows[name]
        print(f"[{name}: {n} sampled frames]")
        print(f"  open session → drawn:            {1000 * open_s:7.1f} ms")
        for on, runs in ups.items():
            u, c, fmt = float(np.mean(runs)), complete[on], lambda xs: ", ".join(f"{x:.1f}" for x in xs)
            print(f"  video texture {'on ' if on else 'off'}: updates/s {u:5.1f} (runs {fmt(runs)}; {rendered[on]} renders "
                  f"for 120; embedded canvas baseline {base:.1f}: {u / base:4.2f}x); complete updates/s "
                  f"{np.mean(c):5.1f} (runs {fmt(c)})")
        print(f"  real playback 1x: {play:5.1f} sampled frames shown/s (10 expected), longest gap {1000 * gap:.0f} ms")
        print(f"  seek → mesh rendered (texture {'on' if modes[-1] else 'off'}): mean {1000 * lat.mean():5.1f} ms, max {1000 * lat.max():5.1f} ms")
    if stall_rows is not None:
        print_stalls(stall_rows)
    if prof_text:
        print("\ncProfile, 100 updates of the long session (cumulative):")
        print(prof_text)
    b.w.force_quit = True
    b.w.close()
    old.close()


if __name__ == "__main__":
    sys.exit(main())
