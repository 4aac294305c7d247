"""Pure-Python core: domain types, errors, configs and the batch runner (no dagster, no torch)."""
