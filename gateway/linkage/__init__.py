"""Identity resolution: source records in, one golden record per person out.

Ingestion (mapping + normalisers), matching (deterministic rules on blind indexes and a
Splink model), clustering that does not chain households, the golden record with
provenance, and manual merges and splits, each under the gateway's policy and audit.
"""
