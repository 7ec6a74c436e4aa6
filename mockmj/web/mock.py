"""The composition root: everything one running mock holds, built from its settings.

Kept apart from the Flask app (web/app.py) so that the parts layered on the app (control plane, logs,
dashboard, docs) can name the mock without importing the app that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import current_app

from mockmj.config import Settings
from mockmj.engine.callbacks.delivery import Callbacks
from mockmj.engine.facade import Engine
from mockmj.engine.findings import Findings, Thresholds
from mockmj.engine.journal import Journal
from mockmj.model.dialects import Dialect
from mockmj.web import delays
from mockmj.web.docs import docs_html
from mockmj.web.finished import FinishedTasks
from mockmj.web.guard import BodyLimits
from mockmj.web.spec import ApiSpec, Operation, load_spec

if TYPE_CHECKING:
    from mockmj.web.handlers import Context
    from mockmj.web.render import Reply


def thresholds_of(settings: Settings) -> Thresholds:
    """The findings tracker's thresholds, from the settings."""
    return Thresholds(polls_per_second=settings.findings_polls_per_second, poll_window=settings.findings_poll_window,
                      terminal_polls=settings.findings_terminal_polls,
                      abandoned_after=settings.findings_abandoned_after)


class Mock:
    """Everything one running mock holds; reachable as app.extensions['mockmj']."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = Engine(settings)
        self.spec: ApiSpec = load_spec()
        self.control_spec: ApiSpec = load_spec("control-openapi.yaml")
        self.journal = Journal(settings.journal_size, settings.journal_bytes, self.engine.world.store)
        self.findings = Findings(thresholds_of(settings), max_tasks=settings.max_tasks)
        self.callbacks = Callbacks(self.engine)
        self.before_handler: list[Callable[[Operation, Context], Reply | None]] = []
        self.limits = BodyLimits.of(settings)
        self.engine.world.on_evict.append(self._journal_eviction)
        self.finished = FinishedTasks()
        self.engine.world.listeners.append(self.finished)
        self.engine.world.on_evict.append(self.finished.forget)

    def _journal_eviction(self, task_ids: list[str], cap: int) -> None:
        """Evictions are never silent: one journal entry per batch names the tasks that went."""
        listed = ", ".join(task_ids[:20]) + (f" and {len(task_ids) - 20} more" if len(task_ids) > 20 else "")
        self.journal.record({
            "time": self.engine.now(), "method": "EVICT", "path": "/mj/task", "operationId": "mockmjEviction",
            "key": None, "status": 0, "code": None, "billable": False, "latencyMs": 0.0,
            "body": f"evicted {len(task_ids)} finished task(s), oldest first, beyond max_tasks={cap}: {listed}",
        })

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    def docs_html(self) -> str:
        timing = self.engine.clock_view()["timing"]
        return docs_html(self.spec.document, self.control_spec.document, self.dialect.name, timing)

    def auth_required(self) -> bool:
        if self.settings.no_auth:
            return False
        return bool(self.settings.keys) or self.dialect.auth_without_keys

    def pause(self, seconds: float) -> None:
        """A simulated delay (a rule's latencyMs): see web/delays.py for why it needs server threads to spare."""
        delays.pause(seconds)

    def spring_timestamp(self) -> str:
        """Spring's error timestamp, from the mock's clock (so replays with a seed stay byte-identical)."""
        return datetime.fromtimestamp(self.engine.now() / 1000, UTC).isoformat(timespec="milliseconds")


def spring_timestamp() -> str:
    """`Mock.spring_timestamp` of the app handling the current request (for code that has no mock at hand)."""
    mock: Mock = current_app.extensions["mockmj"]
    return mock.spring_timestamp()
