"""The demo: simulate days of data through the real DAGs (in-process or a live local stack)."""
