"""Names of what the app injects into handlers (see ``create_app``)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from takeamoment.db.engine import Database
from takeamoment.services.auth import Principal
from takeamoment.settings import Settings

Db: TypeAlias = NamedDependency[Database]
AppSettings: TypeAlias = NamedDependency[Settings]
MaybePrincipal: TypeAlias = NamedDependency[Principal | None]
Caller: TypeAlias = NamedDependency[Principal]

# A slug or an id in a path: never a control character, so a NUL (which PostgreSQL text cannot
# hold) is a 400 here instead of a driver error in a query.
PathKey: TypeAlias = Annotated[str, PathParameter(pattern=r"^[^\x00-\x1f\x7f]{1,200}$")]

# Search words: the same rule as a path key, up to 100 characters (empty means no filter).
SearchText: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
]
