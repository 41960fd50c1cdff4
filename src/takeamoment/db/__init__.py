"""Persistence: SQLModel tables, the engine, queries and the locking that keeps rules true."""

from __future__ import annotations
