"""Cohorts at scale: analyse many sessions on a local process pool or a Dask cluster.

Public API::

    entries = read_batch_manifest("cohort/manifest.csv")
    result = run_batch(entries, "out", workers=2)             # or scheduler="tcp://host:8786"
    result.cohort_csv, result.failed

See ``docs/batch.md`` for the manifest, the output folder and the cohort-table columns.
"""
from facelens.core.analysis.batch.manifest import BatchEntry, ManifestError, read_batch_manifest
from facelens.core.analysis.batch.runner import BatchError, BatchResult, BatchStatus, run_batch
from facelens.core.analysis.batch.task import SessionOutcome, SessionTask, run_session

__all__ = ["BatchEntry", "BatchError", "BatchResult", "BatchStatus", "ManifestError", "SessionOutcome",
           "SessionTask", "read_batch_manifest", "run_batch", "run_session"]
