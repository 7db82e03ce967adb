"""Core: configuration, errors and exit codes, storage zones and partitions, logging, locks."""
