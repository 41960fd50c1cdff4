"""iCalendar feeds: ``render`` turns a schedule into bytes (pure), ``feeds`` serves them over HTTP.

Importing this package loads nothing: ``render`` and ``model`` need only the standard library,
``icalendar`` and ``takeamoment.domain``, while ``feeds`` brings in Litestar and the services.
"""

from __future__ import annotations
