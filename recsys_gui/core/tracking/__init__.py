"""Handing runs to experiment trackers (MLflow, as an optional extra)."""
