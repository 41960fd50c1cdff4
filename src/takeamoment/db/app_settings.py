"""Values the whole deployment shares and keeps across restarts, e.g. the iCalendar UID domain."""

from __future__ import annotations

from sqlalchemy import Text
from sqlmodel import Field, SQLModel


class AppSetting(SQLModel, table=True):
    """One stored value by key; written once when first needed, then read back by every process."""

    __tablename__ = "app_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=Text)
