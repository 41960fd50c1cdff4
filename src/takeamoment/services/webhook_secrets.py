"""Webhook secrets: made in the Standard Webhooks form, kept sealed, opened to sign.

A webhook secret is not like our tokens, which only need to be recognised and so are stored as
a hash: every message is signed with the secret itself (HMAC-SHA256), so the server must be able
to read it again. It is stored encrypted (Fernet: AES-128-CBC with an HMAC, from
``cryptography``) with a key derived by HKDF from ``TAKEAMOMENT_SECRET_KEY``, so a copy of the
database alone does not let anyone forge our signatures. Changing the secret key makes the stored
secrets unreadable: those webhooks must then be registered again.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret; what standardwebhooks.Webhook() strips before base64-decoding
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
_KEY_INFO = b"takeamoment webhook secrets v1"


class SecretUnreadable(ValueError):
    """A stored secret that the current secret key cannot open (the key was changed)."""


def new_secret() -> str:
    """A fresh ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Seals and opens webhook secrets with a key derived from the deployment's secret key."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise SecretUnreadable(
                "the webhook secret was sealed with another secret key"
            ) from error
