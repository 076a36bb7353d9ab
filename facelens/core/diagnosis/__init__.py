"""Diagnosis: subject-level features from a session's dynamics, the BD-vs-MDD model (training with
subject-level cross-validation, prediction or a refusal with its reason) and the simulated reference cohort."""
