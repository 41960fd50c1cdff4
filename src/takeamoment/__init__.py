"""takeamoment: run the schedule of a live-streamed event."""

from __future__ import annotations

__version__ = "0.1.0"
