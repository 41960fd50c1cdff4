"""Use cases: one transaction each, deciding with ``domain`` and persisting with ``db``."""

from __future__ import annotations
