"""URL rules whose URL builders are compiled on first use.

werkzeug compiles two functions per rule (with `ast` and `compile`) when a rule is added, for building URLs
(`url_for`): measured, three quarters of the time `create_app` takes, for about a hundred rules. The mock
matches URLs and never builds one, so the builders are made the first time one is asked for, if ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule

# CPython 3.11's `ast` is not safe across threads (see web/app.py): builders are compiled one at a time
_COMPILING = threading.Lock()


class LazyBuilderRule(Rule):
    """A werkzeug Rule that compiles its URL builders at their first call. Should a werkzeug release stop
    calling `_compile_builder`, this class changes nothing: its rules are then compiled eagerly, as before."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not compiled:
                with _COMPILING:
                    if not compiled:
                        compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, **values)

        return build
