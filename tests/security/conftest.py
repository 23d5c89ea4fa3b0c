"""Fixtures for the account, session, limit and share tests: a data dir, a process runner."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Return an empty data directory inside its own parent, so escapes can be seen."""
    path = tmp_path / "root" / "data"
    path.mkdir(parents=True)
    return path


def wait_until(start: Any) -> None:
    """Block on the shared barrier until every worker process is ready, so they race."""
    start.wait(timeout=60)


def _call(fn: Callable[..., Any], start: Any, results: Any, index: int, args: tuple) -> None:
    try:
        results.put((index, True, fn(start, *args)))
    except BaseException:
        results.put((index, False, traceback.format_exc()))


@pytest.fixture
def run_processes() -> Callable[[Callable[..., Any], Iterable[tuple[Any, ...]]], list[Any]]:
    """Return a runner: call `fn(start, *args)` in one spawned process per args tuple.

    `start` is a barrier the worker passes to `wait_until` when it is ready to race; the runner
    returns the results in argument order and fails on any worker exception.
    """

    def run(fn: Callable[..., Any], arg_list: Iterable[tuple[Any, ...]]) -> list[Any]:
        args = list(arg_list)
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(len(args))
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_call, args=(fn, start, results, i, a)) for i, a in enumerate(args)
        ]
        for p in procs:
            p.start()
        out: dict[int, Any] = {}
        try:
            for _ in procs:
                index, ok, value = results.get(timeout=60)
                assert ok, value
                out[index] = value
        finally:
            for p in procs:
                p.join(timeout=10)
        return [out[i] for i in range(len(args))]

    return run
