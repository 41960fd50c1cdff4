"""The one statement every outbox table records its outcomes with (an executemany a batch).

An outcome is written only under the claim that made it: the row must still be ``sending`` with
the attempt count of that claim. A row whose lease ran out and was claimed again elsewhere keeps
what its newer claim writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Update, bindparam, update


def outcome_update(table: Any, *extra_columns: str) -> Update:
    """``UPDATE table SET state, next_attempt_at, last_error, sent_at, updated_at`` (and each of
    ``extra_columns``) from the parameters ``b_<column>``, ``b_now`` and ``b_next``, where ``id``
    and ``attempts`` match the claim."""
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.attempts == bindparam("b_attempts"),
            table.c.state == "sending",
        )
        .values(
            state=bindparam("b_state"),
            next_attempt_at=bindparam("b_next"),
            last_error=bindparam("b_error"),
            sent_at=bindparam("b_sent_at"),
            updated_at=bindparam("b_now"),
            **{column: bindparam(f"b_{column}") for column in extra_columns},
        )
    )
