"""Any Unicode text goes through the renderer and comes back as written, adding nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takeamoment.calendar.model import Performer
from takeamoment.calendar.render import clean_text, render_calendar
from tests.calendar.readers import (
    Reader,
    assert_well_formed,
    property_names,
    read_everywhere,
    read_with_icalendar,
    read_with_vobject,
)
from tests.calendar.samples import VEVENT_PROPERTIES, calendar, slot

# Hypothesis leaves out lone surrogates by default: no JSON body or database text holds them.
ANY_TEXT = st.text(max_size=300)
# Text with no control character and no line or paragraph separator: kept exactly as written.
PLAIN_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=300
)
TAGS = st.lists(st.text(min_size=1, max_size=64), max_size=5)

# ``ics`` unescapes in the wrong order: an escaped backslash before "n" or "N" ("\\n" on the
# wire) comes back as a backslash and a line break, and a comma after an escaped backslash
# ("\\," in CATEGORIES) as part of the tag. icalendar and vobject read those exactly (tested
# below), so the three-reader test leaves out the text that trips ics.
ICS_TROUBLE = re.compile(r"\\[nN]")
ICS_SAFE_TEXT = PLAIN_TEXT.filter(lambda text: not ICS_TROUBLE.search(text))
ICS_SAFE_TAGS = st.lists(ICS_SAFE_TEXT.filter(lambda t: t and not t.endswith("\\")), max_size=5)

thorough = settings(max_examples=150, deadline=None)


def expected_properties(tags: list[str]) -> list[list[str]]:
    kept = (
        VEVENT_PROPERTIES
        if any(clean_text(tag) for tag in tags)
        else VEVENT_PROPERTIES - {"CATEGORIES"}
    )
    return [sorted(kept)]


@thorough
@given(title=ANY_TEXT, description=ANY_TEXT, tags=TAGS, name=ANY_TEXT)
def test_any_text_reads_back_cleaned_and_never_adds_a_line_or_property(
    title: str, description: str, tags: list[str], name: str
) -> None:
    entry = slot(
        title=title,
        description=description,
        tags=tuple(tags),
        people=(Performer(name=name, handle=name, role="creator"),),
    )
    body = render_calendar(calendar(entry, name=name, description=description))

    assert_well_formed(body)
    assert [sorted(names) for names in property_names(body)] == expected_properties(tags)
    (read,) = read_with_icalendar(body.decode()).values()
    assert read.summary == clean_text(title)
    assert read.description.startswith(clean_text(description))
    assert read.categories == {clean_text(tag) for tag in tags} - {""}


@thorough
@given(title=PLAIN_TEXT, description=PLAIN_TEXT, tags=st.lists(PLAIN_TEXT.filter(bool)))
def test_plain_unicode_reads_back_unchanged_with_icalendar_and_vobject(
    title: str, description: str, tags: list[str]
) -> None:
    body = render_calendar(calendar(slot(title=title, description=description, tags=tuple(tags))))
    for reader in (read_with_icalendar, read_with_vobject):
        (read,) = reader(body.decode()).values()
        assert read.summary == title
        assert read.description.startswith(f"{description}\n\n" if description else "With Ana")
        assert read.categories == set(tags)


@thorough
@given(title=ICS_SAFE_TEXT, description=ICS_SAFE_TEXT, tags=ICS_SAFE_TAGS)
def test_plain_unicode_reads_back_unchanged_with_all_three_readers(
    title: str, description: str, tags: list[str]
) -> None:
    body = render_calendar(calendar(slot(title=title, description=description, tags=tuple(tags))))
    (read,) = read_everywhere(body.decode()).values()
    assert read.summary == title
    assert read.description.startswith(f"{description}\n\n" if description else "With Ana")
    assert read.categories == set(tags)


@pytest.mark.parametrize("reader", [read_with_icalendar, read_with_vobject])
@pytest.mark.parametrize("text", ["C:\\New", "\\n", "\\N", "back\\", "\\\\,", "a\\;b"])
def test_backslashes_read_back_exactly(reader: Reader, text: str) -> None:
    body = render_calendar(calendar(slot(title=text, tags=(text, "next")))).decode()
    (read,) = reader(body).values()
    assert (read.summary, read.categories) == (text, {text, "next"})
