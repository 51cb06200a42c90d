"""Operations: health, metrics, structured logs, rate limits and quotas.

Nothing here reads or writes personal data: labels and log fields are names of apps, roles,
purposes, operations and codes, never a value or a raw id.
"""
