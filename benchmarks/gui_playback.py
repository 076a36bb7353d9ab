"""GUI speed: playback updates per second, session open time and seek latency (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_playback.py [RESULTS.h5 VIDEO]

Without arguments it analyses ``../shared/media/videos/pyfeat_WolfgangLanger_Pexels.mp4`` first. It
prints, in one run: updates/s of the full view (mesh + plots + circumplex + cursor) with the
vertex/normal-only mesh upload, the same with ``Mesh.set_data`` every frame (the baseline, FACTS.md),
their ratio, the time to open the session, the mean/max seek latency (mesh + plots; the video frame
decodes in its own thread and is timed separately), and the longest event-loop stall while an
analysis runs in the background.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import vispy

    vispy.use(app="pyside6")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from facelens.core.results import SessionResults
    from facelens.gui.main_window import MainWindow
    from facelens.gui.session_data import SessionData
    from facelens.gui.video_view import FrameLoader

    repo = Path(__file__).resolve().parents[1]
    video = repo.parent / "shared" / "media" / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"
    tmp = Path(tempfile.mkdtemp())
    if len(sys.argv) >= 3:
        results, video = Path(sys.argv[1]), Path(sys.argv[2])
    else:
        from facelens.core.pipeline import analyze_to_file

        results = tmp / "bench.h5"
        print("analysing", video.name, "…", flush=True)
        analyze_to_file(video, results, fps=10.0)
    w = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    w.resize(1400, 950)
    w.show()
    for _ in range(20):
        app.processEvents()

    t0 = time.perf_counter()
    data = SessionData.from_results(SessionResults.open(results), video)
    w.review.set_session(data, FrameLoader(video), 1)
    app.processEvents()
    open_s = time.perf_counter() - t0

    def run_updates(n: int, set_data: bool) -> float:
        ts = data.time_s
        mesh = w.face.scene.mesh
        t0 = time.perf_counter()
        for k in range(n):
            i = k % len(ts)
            if set_data:  # baseline: the stock path, a full MeshData rebuild per frame
                v = data.view_mesh(i)
                if v is not None:
                    mesh.set_data(vertices=v, faces=w.face.scene.faces, color=mesh.color)
                w.review.current_frame = i  # keep the controller from also uploading
                w.review.state.playhead = float(ts[i])
            else:
                w.review.state.playhead = float(ts[i])
            w.face.scene.canvas.native.repaint()
            w.timeline.glw.repaint()
            w.circumplex.plot.repaint()
            app.processEvents()
        return n / (time.perf_counter() - t0)

    run_updates(20, False)
    fast = run_updates(150, False)
    base = run_updates(150, True)

    # Real playback at 1x for 4 s through the QTimer: sampled frames shown per second (the content
    # changes 10 times a second at 10 fps analysis) and the longest gap between two ticks.
    shown: list[float] = []
    w.review.frame_shown.connect(lambda _i: shown.append(time.perf_counter()))
    w.review.home()
    w.review.play()
    t_play = time.perf_counter()
    while time.perf_counter() - t_play < 4.0 and w.review.is_playing():
        app.processEvents()
        time.sleep(0.001)
    w.review.pause()
    play_s = time.perf_counter() - t_play
    gaps = np.diff(shown) if len(shown) > 1 else np.zeros(1)
    # Rebuild the visual in its normal state after the baseline run.
    w.review.set_session(SessionData.from_results(SessionResults.open(results), video), None, 2)

    lat = []
    rng = np.random.default_rng(0)
    for t in rng.uniform(0, data.duration_s, 40):
        t1 = time.perf_counter()
        w.review.seek(float(t))
        w.face.scene.canvas.native.repaint()
        w.timeline.glw.repaint()
        lat.append(time.perf_counter() - t1)
    # Video frame decode latency (the FrameLoader's work, off the GUI thread).
    from facelens.core.video import open_session

    s = open_session(video)
    dec = []
    for t in rng.uniform(0, data.duration_s, 15):
        t1 = time.perf_counter()
        s.frame_at(float(t))
        dec.append(time.perf_counter() - t1)

    # Event-loop stalls while an analysis runs in the background.
    from facelens.gui.analysis import AnalysisJob

    stalls = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(beat)
    timer.start(10)
    done = []
    w.queue.finished.connect(lambda *a: done.append(1))
    w.queue.failed.connect(lambda *a: done.append(1))
    w.queue.enqueue(AnalysisJob(99, video, tmp / "bg.h5"))
    t_end = time.perf_counter() + 60
    while not done and time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    w.queue.stop_all()

    print(f"playback updates/s (vertex+normal upload): {fast:6.1f}")
    print(f"playback updates/s (Mesh.set_data baseline): {base:6.1f}")
    print(f"ratio: {fast / base:5.2f}x")
    print(f"real playback 1x: {len(shown) / play_s:5.1f} sampled frames shown/s (analysis rate 10/s), "
          f"longest gap {1000 * gaps.max():.0f} ms")
    print(f"open session ({data.n_frames} frames): {1000 * open_s:6.1f} ms")
    print(f"seek latency (mesh+plots): mean {1000 * np.mean(lat):5.1f} ms, max {1000 * np.max(lat):5.1f} ms")
    print(f"frame decode (background thread): mean {1000 * np.mean(dec):5.1f} ms, max {1000 * np.max(dec):5.1f} ms")
    print(f"longest event-loop stall during background analysis: {1000 * max(stalls[1:] or [0]):6.1f} ms"
          f" ({'finished' if done else 'stopped after 60 s'})")
    w.force_quit = True
    w.close()


if __name__ == "__main__":
    main()
