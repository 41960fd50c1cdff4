"""Worker processes of the load clients, and the pipe between them and the parent.

A worker (:class:`PipeWorker`) runs one asyncio loop that reads commands ``(name, *args)`` from
its pipe, runs each as a task and answers ``("reply", name, result)`` or ``("error", name,
"Type: message")``; ``("stop",)`` or a closed pipe ends it after ``close()``. The parent starts
workers with :func:`start_workers` (spawned, daemonic, one pipe each, watched by the event loop)
and ends them with :func:`stop_workers`: ask, then terminate, then kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

STOP_TIMEOUT_S = 5.0


class PipeWorker:
    """Runs the parent's commands on this process's event loop."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.done: asyncio.Future[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def handlers(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        """The commands this worker answers, by name."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close every connection; called once the parent says stop (or is gone)."""
        raise NotImplementedError

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        loop.add_reader(self.pipe.fileno(), self._on_command)
        try:
            await self.done
        finally:
            loop.remove_reader(self.pipe.fileno())
            await self.close()

    def _on_command(self) -> None:
        try:
            command = self.pipe.recv()
        except (EOFError, OSError):  # the parent is gone: stop
            command = ("stop",)
        if command[0] == "stop":
            if self.done is not None and not self.done.done():
                self.done.set_result(None)
            return
        task = asyncio.get_running_loop().create_task(self._run(command))
        self.tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self.tasks.discard)

    async def _run(self, command: tuple[Any, ...]) -> None:
        name, *args = command
        try:
            self.pipe.send(("reply", name, await self.handlers()[name](*args)))
        except Exception as error:  # report it: the parent decides what a failure means
            self.pipe.send(("error", name, f"{type(error).__name__}: {error}"))


def start_workers(
    target: Callable[[Connection], None],
    prefix: str,
    count: int,
    on_message: Callable[[int], None],
) -> tuple[list[BaseProcess], list[Connection]]:
    """``count`` spawned processes ``<prefix>-<i>`` running ``target(pipe)``; the running loop
    calls ``on_message(i)`` whenever worker i's pipe has something to read."""
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    processes: list[BaseProcess] = []
    pipes: list[Connection] = []
    for index in range(count):
        ours, theirs = context.Pipe()
        process = context.Process(
            target=target, args=(theirs,), name=f"{prefix}-{index}", daemon=True
        )
        process.start()
        theirs.close()
        processes.append(process)
        pipes.append(ours)
        loop.add_reader(ours.fileno(), on_message, index)
    return processes, pipes


def stop_workers(processes: list[BaseProcess], pipes: list[Connection], grace_s: float) -> None:
    """Ask every worker to stop, wait ``grace_s`` for it, then terminate, then kill; close the
    pipes. Safe on workers already gone."""
    loop = asyncio.get_running_loop()
    for pipe in pipes:
        with contextlib.suppress(Exception):
            loop.remove_reader(pipe.fileno())
        with contextlib.suppress(Exception):
            pipe.send(("stop",))
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()
    for pipe in pipes:
        pipe.close()
