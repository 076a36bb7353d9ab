"""Small controllers of the main window. Each owns one job (diagnosis, analysis queue, …), reads and
writes the one evented :class:`facelens.viewmodel.app_model.AppModel` and the typed
:class:`facelens.viewmodel.settings.AppSettings`, and drives its views; controllers never call each
other."""
