"""View model: the Qt-free, evented state of the review workstation (open session, selection, playhead,
visible range, results computed from it) that the GUI controllers change and the views subscribe to."""
