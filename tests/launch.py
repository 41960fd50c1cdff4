"""``takeamoment`` commands as real processes, forked from a server that has imported the app.

A new Python process spends about a second and a half of CPU importing Litestar, SQLAlchemy and
the app before ``serve`` reaches its first line; the suite starts a few hundred of them. Each
pytest worker therefore keeps a ``multiprocessing`` fork server that imported
``takeamoment.cli`` once: a command forked from it is still a process of its own (its own pid,
event loop, database connections and signal handlers; SIGTERM and SIGKILL behave as for any
process), it runs ``main`` of the ``takeamoment`` command with the given arguments, environment
and working directory, and it writes to the stdout and stderr the test has at the moment it
starts (``capfd`` sees it, as with ``subprocess``). The installed console script itself is
exercised by the tests that start it on purpose (``tests/test_package.py``,
``tests/e2e/test_cli.py``, ``tests/e2e/test_watch.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing import reduction
from pathlib import Path
from typing import Any, Protocol

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["tests.launched"])


class _PassedFd:
    """A file descriptor sent to the child with the process object (as its pipes are)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        # Only while the process object is pickled for the fork server does DupFd know where
        # to send the descriptor; the child gets an object whose ``detach()`` returns it.
        return (_received, (reduction.DupFd(self.fd),))  # type: ignore[attr-defined]


def _received(fd: Any) -> Any:
    return fd


def _run(argv: list[str], env: dict[str, str], cwd: str, stdout: Any, stderr: Any) -> None:
    """The child: the test's stdio, environment and folder, then the command's ``main``."""
    os.dup2(stdout.detach(), 1)
    os.dup2(stderr.detach(), 2)
    # multiprocessing gave the child a stdin on some free descriptor; a shell gives fd 0, and
    # uvicorn hands sys.stdin's descriptor to the workers it spawns (serve --workers 2).
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    from takeamoment.cli import main

    sys.argv = ["takeamoment", *argv]
    main(args=argv, prog_name="takeamoment")  # exits with the command's code


class Process(Protocol):
    """What the tests do with a process, ours (:class:`Launched`) or another's (``Popen``)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | Any: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class Launched:
    """A started command, with the part of ``subprocess.Popen``'s interface the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["takeamoment"], timeout or 0)
        return self._process.exitcode

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


def launch(
    argv: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    stdout: int = 1,
    stderr: int = 2,
    starts_processes: bool = False,
) -> Launched:
    """Start ``takeamoment ARGV`` writing to the given file descriptors (the test's own).

    A command is ended with the test worker if a test left it running, unless it starts
    processes of its own (``serve --workers 2``: multiprocessing lets no daemon do that).
    """
    process = _CONTEXT.Process(
        target=_run,
        args=(list(argv), dict(env), str(cwd), _PassedFd(stdout), _PassedFd(stderr)),
        name=f"takeamoment {' '.join(argv[:1])}",
        daemon=not starts_processes,
    )
    process.start()
    return Launched(process)


def run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``takeamoment ARGV`` to its end, as ``subprocess.run(..., capture_output=True)``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = launch(argv, env, cwd, out.fileno(), err.fileno())
        code = process.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            ["takeamoment", *argv], code, out.read().decode(), err.read().decode()
        )
