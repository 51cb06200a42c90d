"""Scoring: propensity models (scikit-learn), scores per customer, next best action and the
explanations of both (GDPR Art. 22), within each customer's choices."""

from __future__ import annotations
