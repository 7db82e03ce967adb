"""Monitoring: drift profiles and statistics, performance, the daily check, retrain policy, report."""
