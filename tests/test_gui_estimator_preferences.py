"""Preferences choose the valence/arousal estimator and the reconstruction; the analysis child runs them."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_preferences_choose_estimator_and_reconstruction_and_the_child_passes_them_on(
        gui_qapp, gui_settings, qtbot, monkeypatch, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDialogButtonBox

    from facelens.gui import analysis_child
    from facelens.gui.dialogs import PreferencesDialog
    from facelens.viewmodel.settings import AppSettings

    prefs = AppSettings(gui_settings)
    assert (prefs.va_estimator, prefs.reconstruction) == ("g", "fit")  # the defaults
    dlg = PreferencesDialog(gui_settings)
    qtbot.addWidget(dlg)
    dlg.show()
    assert "(default)" in dlg.va_box.currentText() and dlg.va_box.currentText().startswith("G")
    for box, key in ((dlg.va_box, Qt.Key.Key_Up), (dlg.recon_box, Qt.Key.Key_Down)):  # real keys, focused boxes
        box.setFocus()
        QTest.keyClick(box, key)
    ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    QTest.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert (prefs.va_estimator, prefs.reconstruction) == ("circumplex", "asmv2l")

    seen = {}

    def fake_run(video, out, **kw):
        seen.update(kw)
        return iter(())

    from facelens.core.analysis import pipeline

    monkeypatch.setattr(pipeline, "run_analysis", fake_run)

    class Conn:
        def __init__(self):
            self.sent = []

        def send(self, msg):
            self.sent.append(msg)

    class Never:
        def is_set(self):
            return False

    job = analysis_child.ChildJob(str(tmp_path / "v.mp4"), str(tmp_path / "v.h5"), va=prefs.va_estimator,
                                  reconstruction=prefs.reconstruction)
    conn = Conn()
    analysis_child._run(job, conn, Never())
    assert seen["va"] == "circumplex" and seen["reconstruction"] == "asmv2l" and conn.sent[-1][0] == "done"
