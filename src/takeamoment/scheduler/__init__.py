"""Timed work: reminders, "you're on" and overrun notices, armed from the database."""

from __future__ import annotations
