"""What every benchmark script shares around its measurement: the command line and the report.

``run_main`` runs a benchmark's ``run(args)`` so that SIGTERM cancels it as Ctrl-C does (its
cleanup, servers stopped and scratch databases dropped, always runs) and exits with its status:
130 when interrupted, 1 on a ``BenchError`` that got that far. ``command_line`` is the command
that produced a report, as the reports quote it; ``backends_report`` lays out a report of results
per backend; ``bounded`` is an argparse type for a number in a range; ``percentile`` and ``ms``
are the latency figures of the reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shlex
import signal
import statistics
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from _server import BenchError


def command_line() -> str:
    """``python bench/<script>.py ...`` as it was run, the interpreter relative to the cwd."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), *sys.argv])


def backends_report(
    table: Sequence[str], setup: str, details: Sequence[str], failures: Mapping[str, str]
) -> str:
    """A per-backend report: the table, the setup sentence, a line per measured backend, a line
    per failed one (the first line of why) and the command."""
    lines = [*table, "", setup, ""]
    lines += details
    lines += [f"- {backend}: FAILED: {why.splitlines()[0]}" for backend, why in failures.items()]
    lines += ["", f"Command: `{command_line()}`"]
    return "\n".join(lines)


def bounded(low: float, high: float, kind: Callable[[str], Any] = int) -> Callable[[str], Any]:
    """An argparse ``type``: ``kind(value)``, refused unless ``low <= it <= high``."""

    def parse(value: str) -> Any:
        number = kind(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return number

    return parse


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile (inclusive method); NaN for no values."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def ms(value: float) -> str:
    """Milliseconds with one decimal, ``n/a`` for NaN."""
    return "n/a" if math.isnan(value) else f"{value:,.1f}"


async def _stoppable(run: Callable[[argparse.Namespace], Awaitable[int]], args: Any) -> int:
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(args)


def run_main(
    run: Callable[[argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
    log: Callable[[str], None],
    interrupted: str,
) -> NoReturn:
    """``run(args)`` in a new event loop, cancelled by SIGTERM as asyncio already does on Ctrl-C
    so that cleanup always runs; exits with its status, 130 (after logging ``interrupted``) when
    interrupted, 1 on a ``BenchError``."""
    try:
        status = asyncio.run(_stoppable(run, args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log(interrupted)
        status = 130
    except BenchError as error:
        log(f"FAILED: {error}")
        status = 1
    sys.exit(status)
