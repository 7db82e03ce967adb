"""Tracking: the one owner of MLflow plumbing (client, experiments, tags, artifacts, run state)."""
