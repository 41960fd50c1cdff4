"""Imported once by the fork server of ``tests/launch.py``: what every command needs."""

from __future__ import annotations

import takeamoment.app  # noqa: F401
import takeamoment.cli  # noqa: F401
