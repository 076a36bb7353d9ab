"""The per-analysis results file (HDF5, schema version 1): writer and reader.

One HDF5 file holds every per-frame array of one analysis run (schema in
``docs/architecture.md``). The writer streams batches to ``NAME.h5.partial`` and renames
it to ``NAME.h5`` only in :meth:`ResultsWriter.finish`, so a crash never leaves a file that
looks complete. After each batch it flushes and records ``n_done``; a later
``ResultsWriter(..., resume=True)`` truncates the partial file to ``n_done`` frames and
carries on appending from there.
"""
from facelens.core.results.reader import SessionResults, stored_affect_inputs
from facelens.core.results.schema import PARTIAL_SUFFIX, SCHEMA_VERSION, ResultsError, partial_path
from facelens.core.results.writer import ResultsWriter

__all__ = ["PARTIAL_SUFFIX", "SCHEMA_VERSION", "ResultsError", "ResultsWriter", "SessionResults", "partial_path",
           "stored_affect_inputs"]
