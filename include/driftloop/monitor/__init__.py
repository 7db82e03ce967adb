"""Monitoring: performance from late labels, the daily check, drift/decay onsets, retrain policy, report."""
