"""Small controllers of the main window: workspace, session, analysis queue, annotation, diagnosis and
report (the review controller is :mod:`facelens.gui.review`). Each owns one job, reads and writes the
one evented :class:`facelens.viewmodel.app_model.AppModel` and the typed
:class:`facelens.viewmodel.settings.AppSettings`, and drives the widgets it is given; none reaches into
the window. State shared between them lives in the model; where one needs another's action (a finished
analysis reopens the session on screen) the window passes that action in as a callable."""
