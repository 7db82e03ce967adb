"""Model: estimators from config, training, the gate, the registry (aliases, lock), scoring."""
