"""The HTTP API: controllers parse and authorise, then make one service call each."""

from __future__ import annotations
