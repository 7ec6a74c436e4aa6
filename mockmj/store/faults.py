"""A store that fails: the one exception every backend's driver errors become, and how a URL is printed.

A leaf module (the standard library only), so that the backends and the store interface can all import it."""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

RETRY_AFTER_S = 1  # what a client told "the store is unavailable" is asked to wait before trying again


class StoreUnavailable(Exception):
    """The shared store did not answer, or refused (Redis gone or loading, SQLite locked, full or unreadable).

    Nothing of the request that met it was kept: the web layer answers 503 with Retry-After, and the engine
    forgets what it had changed in memory (replica.py). The store's driver errors are all turned into this one,
    so that no layer above has to know the backend."""

    def __init__(self, url: str, reason: BaseException | str) -> None:
        detail = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
        self.url, self.reason = safe_url(url), detail[:300]
        super().__init__(f"store {self.url} is unavailable ({self.reason})")


def safe_url(url: str) -> str:
    """The store URL as it may be printed: a password in it (redis://:PASS@host, redis://user:PASS@host) masked."""
    return re.sub(r"^([a-z+]+://[^:/@]*:)[^@]*@", r"\1***@", url)


def no_space(url: str) -> str | None:
    """For a `sqlite:` store, why its filesystem can take no more (not a free block left), else None.

    A write that fails for want of space can leave SQLite's WAL file holding room for a few pages: a small
    write still fits, while the next submission does not. The filesystem says how full it is for certain."""
    if not url.startswith("sqlite:"):
        return None
    folder = os.path.dirname(os.path.abspath(url[len("sqlite:"):]))
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None  # the store's own error says more, when it is used
    free = stats.f_bfree if os.geteuid() == 0 else stats.f_bavail  # root may use the blocks kept for it
    if free > 0:
        return None
    return f"OSError: no space left on the filesystem holding {safe_url(url)} (database or disk is full)"


Method = TypeVar("Method", bound=Callable[..., Any])


def guard_faults(cls: type, errors: tuple[type[BaseException], ...] | Callable[[], tuple[type[BaseException], ...]]
                 ) -> None:
    """Wrap every public method of a backend so that its driver's `errors` come out as StoreUnavailable
    (`exclusive`, a context manager, translates its own). `errors` may be a function, asked when an error
    comes: a driver imported only when it is used is then not imported for the wrapping."""
    known = errors if callable(errors) else (lambda: errors)

    def wrap(method: Method) -> Method:
        if inspect.isgeneratorfunction(method):
            @functools.wraps(method)
            def walk(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    yield from method(self, *args, **kwargs)
                except Exception as exc:
                    if isinstance(exc, StoreUnavailable) or not isinstance(exc, known()):
                        raise
                    raise StoreUnavailable(self.url, exc) from exc

            return walk  # type: ignore[return-value]

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if isinstance(exc, StoreUnavailable) or not isinstance(exc, known()):
                    raise
                raise StoreUnavailable(self.url, exc) from exc

        return call  # type: ignore[return-value]

    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_") and name not in ("exclusive", "close"):
            setattr(cls, name, wrap(member))
