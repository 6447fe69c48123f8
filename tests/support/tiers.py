"""What each tier may not do, enforced while its tests run (see tests/unit/conftest.py and
tests/integration/conftest.py).

A refused call fails the test at once with `pytest.fail` (which code under test catching
`Exception` cannot swallow); one made in another thread fails it again at teardown, since
that thread's failure may never reach the test."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest

INET = (socket.AF_INET, socket.AF_INET6)


def _argv(args: object) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        try:
            return shlex.split(text)
        except ValueError:
            return [text]
    return [os.fsdecode(a) for a in args]  # type: ignore[union-attr]


def _program(argv: Sequence[str]) -> str:
    """The program argv runs; through env(1) (`env -u NAME NAME=value prog …`, as helmq runs
    git), the program env starts."""
    words = list(argv)
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
        while words and (words[0] == "-u" or "=" in words[0] or words[0].startswith("-")):
            words = words[2:] if words[0] == "-u" else words[1:]
    return os.path.basename(words[0]) if words else ""


def only_git(argv: Sequence[str]) -> str | None:
    """The unit tier's rule: git, and nothing else, may run as a process."""
    if _program(argv) == "git":
        return None
    return "unit tests start no process but git"


ACCEPTANCE_PROGRAMS = {"helmq", "celery", "flower", "chromium", "chromium-browser", "node"}
ACCEPTANCE_MODULES = {"helmq", "helmq.cli.main", "celery", "flower"}


def no_helmq_celery_or_browser(argv: Sequence[str]) -> str | None:
    """The integration tier's rule: helmq and celery run in process; a helmq or celery
    process, or a browser, makes a test an acceptance test."""
    words = [os.path.basename(a) for a in argv]
    if _program(argv) == "sh" and "-c" in argv:
        words = [os.path.basename(w) for w in shlex.split(argv[argv.index("-c") + 1])]
    modules = {words[i + 1] for i, w in enumerate(words[:-1]) if w == "-m"}
    if (words and words[0] in ACCEPTANCE_PROGRAMS) or modules & ACCEPTANCE_MODULES:
        return "integration tests start no helmq or celery process and no browser"
    return None


@contextmanager
def guarded(monkeypatch: pytest.MonkeyPatch, *, move_to: str,
            process_rule: Callable[[Sequence[str]], str | None],
            network: bool) -> Iterator[None]:
    """Refuse the processes `process_rule` names (and, unless `network`, every TCP/UDP socket
    connect or bind) for one test."""
    refused: list[str] = []

    def refuse(why: str, what: str) -> None:
        message = f"{why} ({what}); move this test to {move_to}"
        if threading.current_thread() is not threading.main_thread():
            refused.append(message)
        pytest.fail(message, pytrace=False)

    real_init = subprocess.Popen.__init__

    def popen_init(self, args, *a, **kw):
        argv = _argv(args)
        why = process_rule(argv)
        if why:
            refuse(why, shlex.join(argv)[:200])
        return real_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)

    if not network:
        def wrap(name: str):
            real = getattr(socket.socket, name)

            def guard(self, address, *a, **kw):
                if self.family in INET:
                    refuse("unit tests open no network socket", f"{name} {address!r}")
                return real(self, address, *a, **kw)
            return guard

        for name in ("connect", "connect_ex", "bind"):
            monkeypatch.setattr(socket.socket, name, wrap(name))
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            pass
        else:  # libpq opens its socket in C, out of the socket module's sight
            def no_postgres(*a, **kw):
                refuse("unit tests use no Postgres", "psycopg.connect")

            monkeypatch.setattr(psycopg, "connect", no_postgres)
            monkeypatch.setattr(psycopg.Connection, "connect", no_postgres)
    yield
    if refused:
        pytest.fail("; ".join(refused), pytrace=False)


def refused_fixture(name: str, what: str, move_to: str):
    """A fixture that overrides `name` in a tier folder and fails any test asking for it."""

    @pytest.fixture(name=name)
    def refused() -> None:
        pytest.fail(f"the `{name}` fixture ({what}) is not for this tier; move this test to "
                    f"{move_to}", pytrace=False)

    return refused
