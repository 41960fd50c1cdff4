"""Values stored once for the whole deployment (``app_setting``), and the iCalendar UID domain."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from takeamoment.db.app_settings import AppSetting
from takeamoment.db.engine import Database

UID_DOMAIN_KEY = "uid_domain"


async def stored_value(db: Database, key: str, first_value: str) -> str:
    """The value stored under ``key``; stores ``first_value`` when there is none yet.

    Several processes may start at once: the first insert wins and every one reads it back.
    """
    async with db.read() as session:
        existing = await session.get(AppSetting, key)
        if existing is not None:
            return existing.value

    async def store(session: AsyncSession) -> str:
        row = await session.get(AppSetting, key)
        if row is None:
            row = AppSetting(key=key, value=first_value)
            session.add(row)
        return row.value

    try:
        return await db.write(store)
    except IntegrityError:  # another process stored it between our read and our insert
        async with db.read() as session:
            row = await session.get(AppSetting, key)
            if row is None:
                raise
            return row.value


def host_of(public_url: str) -> str:
    return urlsplit(public_url).hostname or "takeamoment.invalid"


async def uid_domain(db: Database, configured: str | None, public_url: str) -> str:
    """``TAKEAMOMENT_UID_DOMAIN`` when set; else the public URL's host when first asked, stored."""
    if configured:
        return configured
    return await stored_value(db, UID_DOMAIN_KEY, host_of(public_url))
