"""The pipelines: the only modules that know the order of the steps (annotate; generate later)."""
