"""The "Take A Moment" demo: a World Mental Health Day event, seeded through the service layer.

``seed_demo`` is what ``takeamoment demo`` runs. It builds the event the way a host would, through
the same use cases the API calls, so every booking rule is checked on the way in. The event's slug
is the key that makes it idempotent: a second run creates nothing and only issues a fresh host
token, because tokens are stored hashed and an old one can never be shown again.

The people are fictional; the helplines are real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from takeamoment.db.engine import Database
from takeamoment.domain.errors import AlreadyExists, NotFound
from takeamoment.services import bookings, events, people, slots
from takeamoment.services.auth import Principal, authenticate, issue_host_token
from takeamoment.services.inputs import (
    AvailabilityInput,
    BookingCreate,
    ChannelCreate,
    EventCreate,
    LicenceInput,
    PersonCreate,
    PersonRole,
    SlotCreate,
)
from takeamoment.services.views import EventPublic, SafetyResource
from takeamoment.settings import Settings

DEMO_SLUG = "take-a-moment"
DEMO_TIMEZONE = "Europe/London"
DEMO_HOST_NAME = "Take A Moment demo host"
EVENT_OPENS, EVENT_CLOSES = time(10), time(22)
LICENCE_YEARS_AHEAD = 2

DESCRIPTION = (
    "A day of LIVE sessions for World Mental Health Day, 10 October, part of the "
    "#aGoodCollective campaign to raise awareness of mental health, reduce the stigma around it "
    "and promote well-being. Creators share tips and their own experiences, licensed therapists "
    "answer your questions, a calming-music break gives everyone a pause, and #BookTok recommends "
    "books that help you feel centred. This is not a crisis service: if you are struggling, "
    "please reach out to one of the helplines listed with the event."
)
HASHTAGS = ("aGoodCollective", "MentalHealth", "SelfCare", "MentalHealthAwareness", "BookTok")

SAFETY_RESOURCES = (
    SafetyResource(
        name="Samaritans",
        phone="116 123",
        url="https://www.samaritans.org",
        region="UK and Ireland",
        description="Free, any time, day or night, to talk about whatever is troubling you.",
    ),
    SafetyResource(
        name="Shout",
        phone="Text SHOUT to 85258",
        url="https://giveusashout.org",
        region="UK",
        description="Free, confidential 24/7 text support.",
    ),
    SafetyResource(
        name="988 Suicide & Crisis Lifeline",
        phone="988",
        url="https://988lifeline.org",
        region="US",
        description="Call, text or chat, 24/7.",
    ),
    SafetyResource(
        name="Find A Helpline",
        url="https://findahelpline.com",
        region="International",
        description="Find a free, confidential helpline in your country.",
    ),
    SafetyResource(
        name="Emergency services",
        phone="999 or 112 (UK), 911 (US)",
        description="If someone is in immediate danger, call your local emergency number.",
    ),
)

CHANNELS = (
    ChannelCreate(slug="main-stage", name="Main Stage"),
    ChannelCreate(slug="therapist-qa", name="Therapist Q&A room"),
    ChannelCreate(slug="calm", name="Calm corner"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoLicence:
    number: str
    issuer: str
    jurisdiction: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPerson:
    """A fictional creator or therapist; ``available`` is a local window on the day, or always."""

    name: str
    handle: str
    role: PersonRole
    timezone: str = DEMO_TIMEZONE
    licence: DemoLicence | None = None
    available: tuple[time, time] | None = None

    @property
    def email(self) -> str:
        return f"{self.handle}@example.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSlot:
    """A slot at local times on the day; ``invited`` people are booked but left unanswered."""

    channel: str
    starts: time
    ends: time
    title: str
    description: str
    kind: str = "session"
    tags: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    invited: tuple[str, ...] = ()


DEMO_PEOPLE = (
    DemoPerson(name="Ava Lindqvist", handle="ava.takesamoment", role="creator"),
    DemoPerson(name="Maya Okafor", handle="maya.breathes", role="creator"),
    DemoPerson(name="Sam Rivera", handle="sam.rivera", role="creator", timezone="Europe/Dublin"),
    DemoPerson(name="Noor Haddad", handle="noor.moves.gently", role="creator"),
    DemoPerson(name="Priya Shah", handle="priya.reads", role="creator"),
    DemoPerson(
        name="Dr Hannah Mercer",
        handle="dr.hannah.mercer",
        role="therapist",
        licence=DemoLicence(
            number="PYL-DEMO-0410",
            issuer="Health and Care Professions Council",
            jurisdiction="UK",
        ),
        available=(time(10, 30), time(19, 30)),
    ),
    DemoPerson(
        name="Marcus Bell, LMHC",
        handle="marcus.bell.lmhc",
        role="therapist",
        timezone="America/New_York",
        licence=DemoLicence(
            number="LMHC-DEMO-1010",
            issuer="New York State Education Department, Office of the Professions",
            jurisdiction="US-NY",
        ),
    ),
)

_QA = "TherapistQA"
DEMO_SLOTS = (
    # Main Stage: creators, a panel, #BookTok, a music break and the ends of the day.
    DemoSlot(channel="main-stage", starts=time(10), ends=time(10, 30), kind="opening",
             title="Welcome to Take A Moment", people=("ava.takesamoment",),
             tags=("WorldMentalHealthDay", "aGoodCollective"),
             description="Why we are here today, what is on, and where to find help."),
    DemoSlot(channel="main-stage", starts=time(10, 30), ends=time(11, 15),
             title="Small habits that carried me through", people=("maya.breathes",),
             tags=("SelfCare", "tips"),
             description="Tiny daily routines that make hard weeks a little lighter."),
    DemoSlot(channel="main-stage", starts=time(11, 15), ends=time(12),
             title="Saying it out loud: my story with anxiety", people=("sam.rivera",),
             tags=("MentalHealthAwareness", "experience"),
             description="A personal story about anxiety at university and what helped."),
    DemoSlot(channel="main-stage", starts=time(12), ends=time(12, 45),
             title="Move gently: stretching for a busy mind", people=("noor.moves.gently",),
             tags=("SelfCare", "tips"),
             description="Follow along: ten minutes of movement you can do at your desk."),
    DemoSlot(channel="main-stage", starts=time(12, 45), ends=time(13, 15), kind="music",
             title="Calming music break", tags=("music", "calm"),
             description="Half an hour of the calming playlist. Breathe out."),
    DemoSlot(channel="main-stage", starts=time(13, 15), ends=time(14),
             title="Kindness online: being a good collective",
             people=("ava.takesamoment", "noor.moves.gently"), invited=("noor.moves.gently",),
             tags=("aGoodCollective", "kindness"),
             description="How kindness and tolerance in the comments make a safer space."),
    DemoSlot(channel="main-stage", starts=time(14), ends=time(15),
             title="#BookTok: books that helped me feel centred", people=("priya.reads",),
             tags=("BookTok", "reading"),
             description="Book recommendations for calm, perspective and a sense of well-being."),
    DemoSlot(channel="main-stage", starts=time(15), ends=time(15, 45),
             title="Asking for help: what I wish I had known", people=("sam.rivera",),
             tags=("MentalHealthAwareness", "experience"),
             description="The first conversation is the hardest; here is how mine went."),
    DemoSlot(channel="main-stage", starts=time(15, 45), ends=time(16, 30),
             title="Journaling prompts for hard days", people=("maya.breathes",),
             tags=("SelfCare", "tips"),
             description="Five prompts to untangle a busy head, with time to try them."),
    DemoSlot(channel="main-stage", starts=time(16, 30), ends=time(17, 30), kind="qa",
             title="Ask a therapist, live on the Main Stage", people=("marcus.bell.lmhc",),
             tags=(_QA, "MentalHealth"),
             description="Your questions about therapy: what it is like and how to start."),
    DemoSlot(channel="main-stage", starts=time(17, 30), ends=time(18, 30),
             title="Creators' circle: what helps on a hard day",
             people=("maya.breathes", "sam.rivera", "priya.reads"),
             tags=("experience", "aGoodCollective"),
             description="Three creators compare notes on the things that actually help."),
    DemoSlot(channel="main-stage", starts=time(19), ends=time(20),
             title="#BookTok after dark: cosy reads for calm evenings", people=("priya.reads",),
             tags=("BookTok", "reading"),
             description="Gentle, hopeful books to wind down with."),
    DemoSlot(channel="main-stage", starts=time(20, 15), ends=time(21, 15),
             title="Wind down: an evening stretch", people=("noor.moves.gently",),
             tags=("SelfCare", "tips"),
             description="Slow movement and breathing to close the day."),
    DemoSlot(channel="main-stage", starts=time(21, 30), ends=time(22), kind="closing",
             title="Closing: take a moment for yourself", people=("ava.takesamoment",),
             tags=("WorldMentalHealthDay", "aGoodCollective"),
             description="Thank you for being here; the helplines stay open after we close."),
    # Therapist Q&A room: licensed therapists answer questions.
    DemoSlot(channel="therapist-qa", starts=time(11), ends=time(12), kind="qa",
             title="Therapist Q&A: anxiety and everyday stress", people=("dr.hannah.mercer",),
             tags=(_QA, "anxiety"),
             description="Bring your questions about worry, panic and stress."),
    DemoSlot(channel="therapist-qa", starts=time(12), ends=time(13), kind="qa",
             title="Therapist Q&A: loneliness and relationships", people=("marcus.bell.lmhc",),
             tags=(_QA, "relationships"),
             description="Feeling disconnected, and how to reach out again."),
    DemoSlot(channel="therapist-qa", starts=time(14), ends=time(15), kind="qa",
             title="Therapist Q&A: low mood and burnout", people=("dr.hannah.mercer",),
             tags=(_QA, "burnout"),
             description="Telling tiredness from burnout, and first steps back."),
    DemoSlot(channel="therapist-qa", starts=time(16), ends=time(17), kind="qa",
             title="Therapist Q&A: sleep, screens and switching off", people=("dr.hannah.mercer",),
             tags=(_QA, "sleep"),
             description="Questions about sleep and a healthier relationship with your phone."),
    DemoSlot(channel="therapist-qa", starts=time(18), ends=time(19), kind="qa",
             title="Therapist Q&A: supporting a friend who is struggling",
             people=("marcus.bell.lmhc",), invited=("marcus.bell.lmhc",),
             tags=(_QA, "support"),
             description="What to say, what not to say, and looking after yourself too."),
    # Calm corner: quiet things to drop into at any time.
    DemoSlot(channel="calm", starts=time(13), ends=time(13, 30),
             title="Breathe with me: five minutes at a time", people=("maya.breathes",),
             tags=("SelfCare", "breathing"),
             description="Guided breathing you can come back to whenever you need it."),
    DemoSlot(channel="calm", starts=time(19, 30), ends=time(21, 30), kind="music",
             title="Wind-down playlist", tags=("music", "calm"),
             description="The calming playlist, uninterrupted."),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSummary:
    """What ``takeamoment demo`` prints: where to look, and a host token shown this once."""

    host_token: str
    event_slug: str
    event_day: date
    created: bool
    published: bool
    viewer_url: str
    host_url: str
    schedule_url: str
    calendar_url: str
    webcal_url: str

    @classmethod
    def build(
        cls, public_url: str, event: EventPublic, *, host_token: str, created: bool
    ) -> DemoSummary:
        calendar_url = f"{public_url}/events/{event.slug}/calendar.ics"
        return cls(
            host_token=host_token,
            event_slug=event.slug,
            event_day=event.starts_at.astimezone(ZoneInfo(event.timezone)).date(),
            created=created,
            published=event.status == "published",
            viewer_url=f"{public_url}/events/{event.slug}",
            host_url=f"{public_url}/host/events/{event.slug}",
            schedule_url=f"{public_url}/api/events/{event.slug}/schedule",
            calendar_url=calendar_url,
            webcal_url="webcal://" + calendar_url.split("://", 1)[1],
        )

    def __str__(self) -> str:
        """A short block for people; the last line is the host token alone, for scripts."""
        state = "seeded now" if self.created else "already there, nothing was created again"
        lines = [f"Take A Moment ({self.event_slug}), {self.event_day:%A %d %B %Y}: {state}."]
        if not self.published:
            lines.append(
                "  note: the event is still a draft (did an earlier seeding stop half-way?); "
                "publish it from the host console, or seed an empty database."
            )
        lines += [
            f"  viewer page     {self.viewer_url}",
            f"  host console    {self.host_url}",
            f"  schedule (API)  {self.schedule_url}",
            f"  calendar        {self.calendar_url}",
            f"  subscribe       {self.webcal_url}",
            'A new host token, shown only now (send it as "Authorization: Bearer <token>"):',
            self.host_token,
        ]
        return "\n".join(lines)


def world_mental_health_day(today: date) -> date:
    """The next 10 October on or after ``today``."""
    this_year = date(today.year, 10, 10)
    return this_year if today <= this_year else date(today.year + 1, 10, 10)


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(DEMO_TIMEZONE))


def _event_input(day: date) -> EventCreate:
    return EventCreate(
        slug=DEMO_SLUG,
        title="Take A Moment",
        description=DESCRIPTION,
        timezone=DEMO_TIMEZONE,
        starts_at=_local(day, EVENT_OPENS),
        ends_at=_local(day, EVENT_CLOSES),
        hashtags=list(HASHTAGS),
        changeover_minutes=5,
        reminder_minutes=[15, 5],
        safety_resources=list(SAFETY_RESOURCES),
    )


def _person_input(person: DemoPerson, day: date) -> PersonCreate:
    licence = None
    if person.licence is not None:
        licence = LicenceInput(
            number=person.licence.number,
            issuer=person.licence.issuer,
            jurisdiction=person.licence.jurisdiction,
            expires_on=day.replace(year=day.year + LICENCE_YEARS_AHEAD),
        )
    return PersonCreate(
        name=person.name,
        handle=person.handle,
        role=person.role,
        email=person.email,
        timezone=person.timezone,
        license=licence,
    )


async def _seed_people(db: Database, settings: Settings, day: date) -> dict[str, str]:
    """Create every demo person, verify the therapists' licences; returns their ids by handle."""
    ids: dict[str, str] = {}
    for person in DEMO_PEOPLE:
        row = await people.create_person(db, _person_input(person, day), settings.public_url)
        if person.licence is not None:
            await people.verify_licence(db, row.id)
        if person.available is not None:
            starts, ends = person.available
            window = AvailabilityInput(starts_at=_local(day, starts), ends_at=_local(day, ends))
            await people.set_availability(db, row.id, [window])
        ids[person.handle] = row.id
    return ids


async def _seed_slots(db: Database, host: Principal, day: date, ids: dict[str, str]) -> None:
    """Create every demo slot, book its people, and accept all but the ``invited`` bookings."""
    roles = {person.handle: person.role for person in DEMO_PEOPLE}
    for demo in DEMO_SLOTS:
        slot = await slots.create_slot(
            db,
            DEMO_SLUG,
            SlotCreate(
                channel=demo.channel,
                title=demo.title,
                description=demo.description,
                kind=demo.kind,
                tags=list(demo.tags),
                starts_at=_local(day, demo.starts),
                ends_at=_local(day, demo.ends),
            ),
        )
        for handle in demo.people:
            booking = await bookings.book(
                db, slot.id, BookingCreate(person_id=ids[handle], role=roles[handle])
            )
            if handle not in demo.invited:
                await bookings.accept(db, booking.id, host)


async def _seed_event(db: Database, settings: Settings, host: Principal, day: date) -> bool:
    """Build and publish the whole event; False when a concurrent run created it first."""
    try:
        await events.create_event(db, _event_input(day), settings.public_url)
    except AlreadyExists:
        return False
    for channel in CHANNELS:
        await events.create_channel(db, DEMO_SLUG, channel)
    await _seed_slots(db, host, day, await _seed_people(db, settings, day))
    await events.publish_event(db, DEMO_SLUG, settings.public_url)
    return True


async def _existing_event(db: Database, host: Principal, public_url: str) -> EventPublic | None:
    try:
        return await events.get_event_view(db, DEMO_SLUG, host, public_url)
    except NotFound:
        return None


async def seed_demo(db: Database, settings: Settings, *, today: date | None = None) -> DemoSummary:
    """Seed the demo event on the next 10 October (from ``today``, UTC by default) unless it is
    already there, and return where to look with a new host token either way."""
    token = await issue_host_token(db, DEMO_HOST_NAME)
    # The seeding acts as that host, so accepting bookings goes through the real principal.
    host = await authenticate(db, token)
    if host is None:  # pragma: no cover - the token was written just above
        raise RuntimeError("the demo host token was not found right after it was issued")
    created = False
    if await _existing_event(db, host, settings.public_url) is None:
        day = world_mental_health_day(today or datetime.now(UTC).date())
        created = await _seed_event(db, settings, host, day)
    event = await _existing_event(db, host, settings.public_url)
    if event is None:  # pragma: no cover - it was found or created just above
        raise RuntimeError(f"the demo event {DEMO_SLUG!r} vanished while it was being seeded")
    return DemoSummary.build(settings.public_url, event, host_token=token, created=created)
