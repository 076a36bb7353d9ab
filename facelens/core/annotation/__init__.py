"""Annotation: segments of a session (start, end, label, scenario) and the label sets that govern them."""
