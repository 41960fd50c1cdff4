"""Importing the domain in a fresh interpreter loads no ORM, web framework or pydantic."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("sqlalchemy", "sqlmodel", "litestar", "pydantic", "pydantic_core")

# Every submodule is imported, so a new module of the domain is held to the rule too.
IMPORT_THE_DOMAIN = """
import importlib, json, pkgutil, sys
import takeamoment.domain as domain
names = [domain.__name__ + "." + m.name for m in pkgutil.iter_modules(domain.__path__)]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_the_domain_loads_no_orm_framework_or_pydantic() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_DOMAIN],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)

    assert "takeamoment.domain.intervals" in report["imported"]
    assert "takeamoment.domain.booking_rules" in report["imported"]
    leaked = [
        name
        for name in report["loaded"]
        if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN)
    ]
    assert leaked == []
