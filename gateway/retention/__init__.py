"""Retention: data kept only for purposes whose legal basis ended is destroyed in time."""
