"""Web Push on the server's side: our VAPID key pair, and the browsers' subscriptions.

The VAPID key (RFC 8292) is made once for the whole deployment and kept in ``app_setting``, so
every process signs with the same key and a subscription made through one is served by all.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import AfterValidator, Field
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from takeamoment.db.delivery import PushSubscription
from takeamoment.db.engine import Database
from takeamoment.db.queries import get_person
from takeamoment.domain.errors import Forbidden
from takeamoment.services.app_settings import stored_value
from takeamoment.services.inputs import RequestBody
from takeamoment.services.outbound import MAX_URL_LENGTH, resolve

VAPID_KEY_SETTING = "vapid_private_key"
P256_POINT_BYTES = 65  # an uncompressed P-256 point: 0x04, x, y
AUTH_SECRET_BYTES = 16


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _key_of_length(length: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            raw = b64url_decode(value)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"{what} must be base64url") from error
        if len(raw) != length:
            raise ValueError(f"{what} must be {length} bytes, not {len(raw)}")
        return value

    return AfterValidator(check)


class PushKeys(RequestBody):
    p256dh: Annotated[str, Field(max_length=200), _key_of_length(P256_POINT_BYTES, "p256dh")]
    auth: Annotated[str, Field(max_length=100), _key_of_length(AUTH_SECRET_BYTES, "auth")]


class PushSubscriptionInput(RequestBody):
    """The browser's ``PushSubscription.toJSON()``."""

    endpoint: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    keys: PushKeys
    expirationTime: float | None = None  # noqa: N815 - the browser's own name


class PushEndpoint(RequestBody):
    endpoint: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]


class PushSubscriptionView(SQLModel):
    id: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class VapidKeys:
    private_raw: str  # base64url of the 32-byte private number (what py_vapid reads)
    public_key: str  # base64url of the uncompressed public point (what browsers take)


def _new_private_raw() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(private_raw: str) -> str:
    number = int.from_bytes(b64url_decode(private_raw), "big")
    key = ec.derive_private_key(number, ec.SECP256R1())
    return b64url_encode(
        key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


async def vapid_keys(db: Database) -> VapidKeys:
    """The deployment's VAPID key pair, made and stored the first time it is asked for."""
    private_raw = await stored_value(db, VAPID_KEY_SETTING, _new_private_raw())
    return VapidKeys(private_raw=private_raw, public_key=public_key_of(private_raw))


async def subscribe(
    db: Database, person_id: str | None, data: PushSubscriptionInput, *, allow_private: bool
) -> PushSubscriptionView:
    """Keep a browser's subscription for the person; an unsafe endpoint is refused (422).

    An endpoint names one browser profile: registered again, it moves to whoever registers it.
    """
    if person_id is None:
        raise Forbidden("push subscriptions belong to creators and therapists")
    await resolve(data.endpoint, allow_private=allow_private)

    async def work(session: AsyncSession) -> PushSubscriptionView:
        await get_person(session, person_id, for_update=True)
        query = select(PushSubscription).where(PushSubscription.endpoint == data.endpoint)
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            row = PushSubscription(person_id=person_id, endpoint=data.endpoint, p256dh="", auth="")
            session.add(row)
        row.person_id, row.p256dh, row.auth = person_id, data.keys.p256dh, data.keys.auth
        await session.flush()
        return PushSubscriptionView(id=row.id, endpoint=row.endpoint)

    return await db.write(work)


async def unsubscribe(db: Database, person_id: str | None, endpoint: str) -> None:
    """Forget the person's subscription at ``endpoint``; forgetting one not there is harmless."""
    if person_id is None:
        raise Forbidden("push subscriptions belong to creators and therapists")

    async def work(session: AsyncSession) -> None:
        await session.execute(
            delete(PushSubscription).where(
                PushSubscription.person_id == person_id,  # type: ignore[arg-type]
                PushSubscription.endpoint == endpoint,  # type: ignore[arg-type]
            )
        )

    await db.write(work)
