"""Bearer and feed tokens: random, prefixed so they can be recognised, stored only as hashes.

The tokens carry 256 bits from ``secrets``, so a plain SHA-256 is enough to keep them useless to
whoever reads the database, and lets a lookup stay a single indexed equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets

API_TOKEN_PREFIX = "tam_"  # noqa: S105 - a prefix, not a secret
FEED_TOKEN_PREFIX = "tamf_"  # noqa: S105 - a prefix, not a secret
# Every token we issue: ``tam``, up to four letters naming its kind, ``_``, then base64url. A new
# kind of token keeps this shape, and logs redact it wherever it appears (``logs.py``).
TOKEN_SHAPE = re.compile(r"tam[a-z]{0,4}_[A-Za-z0-9_-]{16,}")


def new_token(prefix: str = API_TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
