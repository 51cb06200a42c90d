"""Segmentation: computed attributes (RFM, life cycle, channel affinity, milestones),
personas (k-means) and saved, versioned rule segments, all within each customer's choices."""

from __future__ import annotations
