"""Validation: runs the analysis stages on labelled and perturbed media and reports accuracy, reliability and
invariance figures (the validity harness)."""
