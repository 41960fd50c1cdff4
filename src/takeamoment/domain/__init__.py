"""The rules of scheduling: pure functions over plain values, no I/O, no framework.

Nothing in this package may import SQLAlchemy, SQLModel or Litestar; a test holds it to that.
"""

from __future__ import annotations
