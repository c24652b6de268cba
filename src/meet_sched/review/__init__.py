"""Reviewing a config change before it is applied: what a sync would do."""
