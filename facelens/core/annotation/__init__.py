"""Annotation: segments of a session (start, end, label, scenario), label sets, editing with undo, and
the ELAN / BORIS interchange formats."""
