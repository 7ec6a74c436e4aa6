"""The engine: the operations of the API and of the control plane, over the parts that hold the world.

No HTTP in here (the moto split): the web layer turns requests into calls on `Engine` and renders
what comes back through the dialect. Every operation opens a transaction (or a read) on the `World`
and calls its parts; every read of a task's state is computed from its schedule and the clock.

- world.py — the records, transactions, and the typed tracking of what a transaction changed
- ledger.py — keys, balances, prices, refunds, rate limits
- dispatch.py — accounts, slots, the path a task takes through its statuses
- attachments.py — uploads, the paths and URLs of a task's files
- views.py — the task JSON; rulebook.py — the control plane's rules
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from mockmj.engine.attachments import Attachments
from mockmj.engine.calls import Accepted, Caller, NewTask
from mockmj.engine.dispatch import Dispatch
from mockmj.engine.ledger import Ledger
from mockmj.engine.paths import assign_paths
from mockmj.engine.rulebook import RuleBook
from mockmj.engine.views import TaskViews
from mockmj.engine.world import World
from mockmj.media.gallery import Gallery
from mockmj.model.errors import param
from mockmj.model.modes import mode_of
from mockmj.model.outcomes import Outcome, split_directive
from mockmj.model.prompts import DEFAULT_BANNED_WORDS, banned_pattern, translate
from mockmj.model.settings import Settings
from mockmj.model.tasks import TERMINAL, Milestone, Status, Task
from mockmj.model.timing import PROFILES
from mockmj.store.base import Store

__all__ = ["Accepted", "Caller", "Engine", "NewTask"]


EVICT_BATCH = 1_000  # finished tasks forgotten by one submission at most


class Engine:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.world = World(settings, store)
        self.dialect = self.world.dialect
        self.ledger = Ledger(self.world, forget_key=self.reset)
        self.dispatch = Dispatch(self.world)
        self.attachments = Attachments(self.world)
        self.views = TaskViews(self.world, self.attachments)
        self.rules = RuleBook(self.world)
        self.gallery = Gallery(self.attachments)
        self.world.on_reload.append(self.gallery.clear)
        self.world.on_evict.append(self.gallery.forget)
        self.banned = banned_pattern(settings.banned_words or DEFAULT_BANNED_WORDS)

    def store_problem(self) -> str | None:
        """Why the shared store does not answer now, or None (health asks)."""
        return self.world.store_problem()

    def close(self) -> None:
        """Let go of the store's and the rate limiter's connections (a stopping server)."""
        self.ledger.close()
        self.world.store.close()

    def transaction(self) -> AbstractContextManager[object]:
        """Several operations as one (a submission's checks and its launch)."""
        return self.world.transaction()

    def reading(self) -> AbstractContextManager[object]:
        """Several reads as one (the dashboard's page, a callback's decision)."""
        return self.world.reading()

    def request(self) -> AbstractContextManager[object]:
        return self.world.request()

    def now(self) -> int:
        return self.world.now()

    def draw(self) -> float:
        """A reproducible draw in [0, 1) from the shared id source (texts chosen by seed)."""
        return self.world.ids.fraction()

    # ----------------------------------------------------------------------------- the control plane's
    def reset(self, key: str | None = None) -> None:
        """Forget everything, or only one tenant's tasks, uploads and balance (parallel workers stay apart)."""
        world = self.world
        with world.transaction():
            if key is None:
                world.reset()
                return
            gone = {t.id for t in world.drop_owner(key)}
            self.attachments.drop_loose(key)
            self.dispatch.release(gone)
            self.ledger.restore_key(key)
            for listener in world.listeners:
                listener.reset(gone, key)

    def set_timing(self, name: str) -> None:
        if name not in PROFILES:
            raise param("timing", f"timing must be one of {', '.join(PROFILES)}")
        with self.world.transaction():
            self.world.set_profile(name)

    def advance(self, ms: int) -> int:
        with self.world.transaction():
            now = self.world.advance(ms)
        for listener in self.world.listeners:
            listener.clock_moved(now)
        return now

    def clock_view(self) -> dict[str, Any]:
        """The clock as the control plane shows it: now, the timing profile, and whether time is virtual."""
        world = self.world
        with world.reading():
            return {"now": world.now(), "timing": world.profile.name, "virtual": world.clock.virtual}

    def task(self, task_id: str) -> Task | None:
        """Any tenant's task (the control plane and the dashboard see every task)."""
        with self.world.reading():
            return self.world.task(task_id)

    def newest_tasks(self, limit: int, owner: str | None = None) -> list[Task]:
        """The latest `limit` submissions of any tenant (or of `owner`), newest first (the dashboard's lists)."""
        with self.world.reading():
            return self.world.newest(limit, owner)

    def task_count(self) -> int:
        with self.world.reading():
            return len(self.world.tasks)

    def status_for(self, owner: str, task_id: str) -> str | None:
        """The status of one tenant's task now, or None when it has no such task."""
        with self.world.reading():
            task = self.world.owned(owner, task_id)
            return self.world.status_of(task).value if task is not None else None

    def adopt(self, task: Task) -> None:
        """Store a task made elsewhere as it is (benchmarks fill a mock with copies of real tasks)."""
        with self.world.transaction():
            self.world.add_task(task)

    def new_task_id(self, now_ms: int | None = None) -> str:
        """A fresh task id from the shared id source (replays hand them out for recorded tasks)."""
        with self.world.transaction():
            return self.world.ids.task_id(self.world.now() if now_ms is None else now_ms)

    # ----------------------------------------------------------------------------- submitting
    def launch(self, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome) -> Accepted:
        """Create the task a submission asks for, charge it and schedule it (or leave it in its window)."""
        with self.world.transaction():
            return self._launch(caller, spec, body, outcome)

    def _launch(self, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome) -> Accepted:
        world = self.world
        account = spec.account or self.dispatch.choose(body.get("accountFilter"), caller.mode)
        mode = mode_of(caller.mode, spec.final_prompt or spec.prompt_en)
        self.ledger.check_mode(caller.key, mode)
        price = self.ledger.price(spec.action, mode)
        record = self.ledger.check_balance(caller.key, price)
        now = world.now()
        task = spec.build(caller, body, account, world.ids, now, self.settings.notify_hook, outcome,
                          self.views.defaults())
        assign_paths(task)
        props = {"discordInstanceId": account.instance_id, "discordChannelId": account.channel_id}
        if spec.modal or outcome.kind == "modal":
            task.set_milestones([Milestone(Status.MODAL, None, now)])
            task.description_after_modal = task.description
            if spec.modal_kind == "custom_zoom":  # upstream shows the window's state as the description
                task.description = self.dialect.messages["modal"]
            self.ledger.charge(record, task, price)
            self._add(task)
            return Accepted("modal", task.id, {**props, "finalPrompt": spec.final_prompt or spec.prompt_en or "",
                                               "remix": True})
        queued = self.dispatch.schedule(task, account, [Milestone(Status.NOT_START, None, now)], outcome)
        self.ledger.charge(record, task, price)
        self._add(task)
        return self._scheduled(task, 1, props, queued)

    def _scheduled(self, task: Task, first: int, props: dict[str, Any], queued: int | None) -> Accepted:
        for listener in self.world.listeners:
            listener.task_scheduled(task, first)
        if queued is not None:
            return Accepted("queued", task.id, {**props, "numberOfQueues": queued}, {"ahead": queued})
        return Accepted("ok", task.id, props)

    def _add(self, task: Task) -> None:
        """Add the task; past `max_tasks`, forget the oldest finished tasks down to 99% of the cap, so the
        work is done once per hundredth of the cap and not at every submission."""
        world, cap = self.world, self.settings.max_tasks
        world.add_task(task)
        if len(world.tasks) <= cap:
            return
        self.ledger.apply_refunds()  # a failure's refund is due when it fails: give it before forgetting it
        target = cap - cap // 100 - 1 if cap >= 100 else cap
        # at most EVICT_BATCH at once: a cap lowered far below what a store holds is reached over the next
        # submissions, not by one that reads a million tasks
        evicted = world.evict_finished(min(len(world.tasks) - max(target, 0), EVICT_BATCH))
        if evicted:
            for notify in world.on_evict:
                notify([t.id for t in evicted], cap)

    def confirm_modal(self, caller: Caller, task_id: Any, prompt: str, recipe: dict[str, Any],
                      updates: dict[str, Any], uploads: list[tuple[str, bytes, str]]) -> Accepted:
        """Move a MODAL task on. It is scheduled first: if that is refused (queue full) nothing changed."""
        world = self.world
        with world.transaction():
            task = world.task_for(caller.key, task_id)
            account = self.dispatch.account(task.account_id)
            assert account is not None  # accounts are never removed, only disabled
            outcome = task.outcome if task.outcome is not None and task.outcome.kind != "modal" else Outcome()
            index = len(task.milestones)
            queued = self.dispatch.schedule(task, account, [Milestone(Status.NOT_START, None, world.now())], outcome)
            task.prompt, task.prompt_en = prompt, translate(split_directive(prompt)[0], self.settings.glossary)
            task.final_prompt = task.prompt_en
            if task.image_recipe is not None:
                task.image_recipe = {**task.image_recipe, **recipe}
            # the window is confirmed: Custom Zoom stops saying "Waiting for window confirm"
            task.description = task.description_after_modal or task.description
            if "notifyHook" in updates:
                task.properties["notifyHook"] = updates["notifyHook"]
            task.state = updates.get("state", task.state)
            self.attachments.keep(task, uploads)
            props = {"discordInstanceId": account.instance_id, "discordChannelId": account.channel_id}
            return self._scheduled(task, index + 1, props, queued)

    def cancel(self, caller: Caller, task_id: Any) -> Accepted:
        world = self.world
        with world.transaction():
            task = world.task_for(caller.key, task_id)
            index = world.reached(task)
            status = task.milestones[index].status
            if status in TERMINAL:
                raise param("task_status", f"task {task.id} is already {status.value}: it cannot be cancelled")
            # Cut the path at the present and end it in CANCEL; the slot is given back.
            del task.milestones[index + 1 :]
            task.extend([Milestone(Status.CANCEL, "", max(world.now(), task.milestones[-1].at or 0))])
            self.dispatch.release({task.id})
            self.ledger.refund(task)
            return self._scheduled(task, len(task.milestones) - 1, {}, None)

    # ----------------------------------------------------------------------------- reading tasks
    def fetch(self, caller: Caller, task_id: str) -> dict[str, Any] | None:
        with self.world.polling():
            task = self.world.owned(caller.key, str(task_id).strip())
            if task is None:
                return None
            self._poll(task)
            return self.views.snapshot(task, caller.origin)

    def poll_finished(self, key: str, task_id: str) -> bool:
        """A fetch of a finished task whose answer the web layer already holds (its bytes never change):
        the poll is recorded as `fetch` records it, without building the view again. False when `key` owns
        no task of that id (the caller then takes the whole way, which answers as for any unknown task)."""
        with self.world.polling():
            task = self.world.owned(key, task_id)
            if task is None:
                return False
            self._poll(task)
            return True

    def list_by_ids(self, caller: Caller, ids: list[Any] | None) -> list[dict[str, Any]]:
        with self.world.polling():
            found, seen = [], set()
            for raw in ids or []:
                task_id = str(raw).strip()
                task = self.world.owned(caller.key, task_id)
                if task is None or task_id in seen:
                    continue
                seen.add(task_id)
                self._poll(task)
                found.append(self.views.snapshot(task, caller.origin))
            return found

    def _poll(self, task: Task) -> None:
        self.world.poll(task, refund=self.ledger.refund)

    def list_all(self, caller: Caller) -> list[dict[str, Any]]:
        with self.world.reading():
            tasks = self.world.newest_of(caller.key, self.settings.list_limit)
            return [self.views.snapshot(t, caller.origin) for t in tasks]

    def queue(self, caller: Caller) -> list[dict[str, Any]]:
        waiting = (Status.NOT_START, Status.SUBMITTED, Status.IN_PROGRESS)
        with self.world.reading():
            tasks = [t for t in self.world.open_of(caller.key) if self.world.status_of(t) in waiting]
            tasks.sort(key=lambda t: (t.submit_time, t.id))
            return [self.views.snapshot(t, caller.origin) for t in tasks]

    def image_seed(self, caller: Caller, task_id: Any) -> str:
        with self.world.reading():
            task = self.world.task_for(caller.key, task_id)
            status = self.world.status_of(task)
            if status is not Status.SUCCESS or task.seed is None:
                why = "made no image" if task.seed is None else f"is {status.value}, not SUCCESS"
                raise param("task_status", f"task {task.id} {why}: there is no image seed")
            return task.seed

