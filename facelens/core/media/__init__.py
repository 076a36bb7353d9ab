"""Media: a session file (video or still image) -> frames sampled at a fixed rate, with seek decoding and metadata."""
