"""``takeamoment export`` and ``takeamoment import``: event documents and CSVs of slots, as text."""

from __future__ import annotations

import json
from typing import Any

from takeamoment.db.engine import Database
from takeamoment.domain.errors import InvalidDocument, NotFound
from takeamoment.services.document import export_event
from takeamoment.services.importing import ImportResult, import_csv_slots, import_document


async def export_to_text(db: Database, slug: str) -> str:
    return json.dumps(await export_event(db, slug), indent=2, ensure_ascii=False)


def _place(loc: list[Any]) -> str:
    """``["slots", 3, "starts_at"]`` as ``slots[3].starts_at``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "document"


def _summary(result: ImportResult, slug: str | None) -> str:
    verb = "would create" if result.dry_run else "created"
    target = result.event.slug if result.event else slug
    people = ", ".join(f"@{h}" for h in result.people_created) or "none"
    return (
        f"{target}: {verb} {result.channels} channel(s), {result.slots} slot(s), "
        f"{result.bookings} booking(s); new people: {people}"
        + (" (dry run: nothing was changed)" if result.dry_run else "")
    )


async def import_from_text(
    db: Database, text: str, name: str, slug: str | None, dry_run: bool, public_url: str
) -> tuple[bool, str]:
    """Import a JSON document (``slug`` renames it) or a CSV of slots (into the event ``slug``);
    (succeeded, what to print)."""
    try:
        if name.lower().endswith(".csv"):
            if not slug:
                return False, "a CSV of slots goes into an existing event: give --slug EVENT"
            result = await import_csv_slots(db, slug, text, public_url, dry_run=dry_run)
        else:
            try:
                document = json.loads(text)
            except json.JSONDecodeError as error:
                return False, f"{name or 'the file'} is not JSON: {error}"
            if slug and isinstance(document, dict):
                document["slug"] = slug
            result = await import_document(db, document, public_url, dry_run=dry_run)
    except InvalidDocument as error:
        lines = [f"{error}; nothing was changed:"]
        lines += [f"  {_place(p['loc'])}: {p['message']}" for p in error.problems]
        return False, "\n".join(lines)
    except NotFound as error:
        return False, str(error)
    return True, _summary(result, slug)
