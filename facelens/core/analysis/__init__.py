"""Analysis: runs the stages (media -> face -> affect) over a session into a results file, sequentially,
in chunk-parallel threads or batched on torch, and over many sessions (batch)."""
