"""Tracking: the one owner of MLflow plumbing (client, experiments, tags, artifacts) and metrics."""
