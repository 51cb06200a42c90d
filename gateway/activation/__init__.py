"""Activation: campaigns and event triggers that send to destinations, gated at send time.

Importing the package registers its section of the person's export and erasure
(gateway/activation/sections.py) with gateway/rights/sections.py; `gateway.store.registry`
imports the tables, so every process that knows the schema knows the section.
"""

from __future__ import annotations

from gateway.activation import sections as _sections  # noqa: F401  (registers the section)
