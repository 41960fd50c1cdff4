"""iCalendar feeds as bytes: ``render`` turns a schedule into them (pure), ``cache`` keeps them.

Below ``services``, which ask it to render; the HTTP routes that serve feeds are ``api/feeds.py``.
Importing this package loads nothing: ``render`` and ``model`` need only the standard library and
``icalendar``, ``cache`` adds ``metrics``, ``conditional`` (a conditional GET's validators) none.
"""

from __future__ import annotations
