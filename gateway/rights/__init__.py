"""Data subject requests: tracked cases with due dates, and the rights they carry out."""

from __future__ import annotations
