"""Ships Alembic's ``migrations/`` inside the package as ``takeamoment.migrations``.

The migrations stay at the top of the repository (DESIGN.md; ``alembic.ini`` finds them there),
and the wheel carries them, so an installed ``takeamoment`` can migrate a database with no
source tree. pyproject.toml's tables cannot map one subpackage to a directory outside ``src/``
while finding the rest, hence these lines; everything else (package data too) is in
pyproject.toml.
"""

from __future__ import annotations

from setuptools import find_namespace_packages, setup

MIGRATIONS = ["takeamoment.migrations", "takeamoment.migrations.versions"]

setup(
    packages=[*find_namespace_packages("src"), *MIGRATIONS],
    package_dir={"": "src", "takeamoment.migrations": "migrations"},
)
