"""The renderer is pure: importing it loads no ORM, web framework or settings."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "sqlmodel", "litestar", "pydantic", "pydantic_settings")

IMPORT_THE_RENDERER = """
import json, sys
import takeamoment.calendar.render, takeamoment.calendar.cache, takeamoment.calendar.conditional
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_renderer_loads_no_orm_framework_or_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_RENDERER], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert "icalendar" in loaded
    leaked = [
        name
        for name in loaded
        if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN)
    ]
    assert leaked == []
