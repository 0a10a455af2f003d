"""Measuring quality on labelled data: used by the tests that bound it and by benchmarks/ (not by the pipelines)."""
