"""The world the mock simulates: submissions, tasks moving with the clock, balances, accounts.

No HTTP in here (the moto split): the web layer turns requests into calls on `Engine` and renders
what comes back through the dialect. Every state change happens under one lock; every read of a
task's state is computed from its schedule and the clock, never stored.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from mockmj.engine.accounts import Account, ApiKey, QueueFull
from mockmj.engine.replica import Replica
from mockmj.engine.rules import RequestFacts, Rule, Rules
from mockmj.engine.task_index import TaskIndex
from mockmj.media.gallery import Gallery
from mockmj.media.video_gallery import is_video, media_paths, video_count
from mockmj.model import buttons as btn
from mockmj.model.clock import Clock, VirtualClock
from mockmj.model.dialects import DIALECTS, Dialect
from mockmj.model.errors import Refusal, param
from mockmj.model.ids import IdSource
from mockmj.model.modes import mode_of, price_in_mode
from mockmj.model.outcomes import Outcome, parse_outcome, split_directive
from mockmj.model.profile_file import resolve_profile
from mockmj.model.prompts import DEFAULT_BANNED_WORDS, banned_pattern, find_banned, translate
from mockmj.model.settings import Settings
from mockmj.model.tasks import TERMINAL, Action, Milestone, Status, Task, percent
from mockmj.model.timing import PROFILES, Plan, TimingProfile, build_path, slot_hold
from mockmj.model.versions import Defaults, version_of
from mockmj.store.base import Store, StoreUnavailable, open_store
from mockmj.store.ratelimit import RateLimiter

ANONYMOUS = "anonymous"
NO_SYNC = nullcontext()  # the memory store: the world is this process's, there is nothing to catch up on
MAX_LOOSE_UPLOADS = 100  # per key: uploads that belong to no task


class Listener(Protocol):
    """What the engine tells about its tasks (implemented by the callback scheduler)."""

    def task_scheduled(self, task: Task, first_index: int) -> None: ...
    def milestone_reached(self, task: Task, index: int) -> None: ...
    def clock_moved(self, now: int) -> None: ...
    def reset(self, gone: set[str] | None, key: str | None = None) -> None: ...


@dataclass
class Caller:
    """Who is asking and from where: the tenant key, the base URL for absolute links, the speed mode
    of a `/mj-fast`-style prefix, and an outcome asked for by header or by a control rule."""

    key: str
    origin: str
    mode: str | None = None
    outcome: str | None = None
    callback_fault: str | None = None  # drop | duplicate | delay | reorder, for receiver tests
    callback_delay_ms: int | None = None


@dataclass
class Accepted:
    kind: str  # ok | queued | modal
    result: Any
    properties: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewTask:
    """Everything that differs between kinds of submission; `Engine._launch` does the rest."""

    action: Action
    prompt: str | None
    prompt_en: str | None
    description: str
    button_set: str
    recipe: dict[str, Any] | None
    steps: bool = True
    bot_type: str = "MID_JOURNEY"
    final_prompt: str | None = None
    reveal_prompt: str | None = None  # prompt/promptEn that appear only at SUCCESS (describe)
    modal: bool = False
    parent: Task | None = None
    custom_id: str | None = None
    account: Account | None = None
    choices: list[str] = field(default_factory=list)
    source_prompt: str | None = None
    prompt_after_start: bool = False
    modal_kind: str | None = None


class Engine:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.dialect: Dialect = DIALECTS[settings.dialect]
        self.lock = threading.RLock()
        self.ids = IdSource(settings.seed)
        self.tasks = TaskIndex()
        self.rules = Rules()
        self.banned = banned_pattern(settings.banned_words or DEFAULT_BANNED_WORDS)
        self.listeners: list[Listener] = []  # the callback scheduler
        self.on_evict: list[Callable[[list[str], int], None]] = []  # told which tasks max_tasks evicted
        self.gallery = Gallery(self)
        self._set_profile(settings.timing)
        self._build_world()
        self.store: Store = store if store is not None else open_store(settings.store)
        # rate limits count where the state lives: in this engine's memory, or in the shared store, so that
        # a key's limit holds across workers
        self.limiter = RateLimiter(settings.store if self.store.shared else "memory://")
        # With a shared store this engine's objects are a replica of the store's world (replica.py); with
        # the memory store they are the world, and a transaction is simply the engine's lock.
        self.replica: Replica | None = Replica(self, self.store) if self.store.shared else None
        if self.replica is not None:
            self.replica.start()

    def store_problem(self) -> str | None:
        """Why the shared store does not answer now (one light read), or None: it does (always, in memory)."""
        if self.replica is None:
            return None
        try:
            self.store.head()
        except StoreUnavailable as exc:
            return exc.reason
        return None

    def close(self) -> None:
        """Let go of the store's and the rate limiter's connections (a stopping server)."""
        self.limiter.close()
        self.store.close()

    # ----------------------------------------------------------------------------- transactions
    def transaction(self) -> AbstractContextManager[object]:
        """Hold this while changing state: with a shared store, what other workers wrote is read first and
        what changed is written (as one version) when it ends."""
        return self.lock if self.replica is None else self.replica.transaction()

    def reading(self) -> AbstractContextManager[object]:
        """Hold this while reading state: with a shared store, the latest writes of every worker are seen."""
        return self.lock if self.replica is None else self.replica.reading()

    def request(self) -> AbstractContextManager[object]:
        """Hold this around one API request: with a shared store, one catch-up at its start serves its reads."""
        return NO_SYNC if self.replica is None else self.replica.request()

    def _mark(self, *names: str) -> None:
        """Name the records a change touched (a shared store writes them when the transaction ends)."""
        if self.replica is not None:
            self.replica.mark(*names)

    def _mark_task(self, task: Task) -> None:
        self._mark(f"task:{task.id}")

    # what a replica calls to install records other workers wrote
    def forget_local_world(self) -> None:
        """Empty the in-memory world before loading the store's (a start, another worker's full reset)."""
        self.tasks.clear()
        self.keys, self.accounts = {}, []
        self.uploads.clear()
        self.loose_uploads.clear()
        self.attachments.clear()
        self.refunds.clear()
        self.polls.clear()
        self.rules.clear()
        self.gallery.clear()
        for listener in self.listeners:
            listener.reset(None)

    def install_task(self, task_id: str, task: Task | None) -> None:
        old = self.tasks.get(task_id)
        if old is not None:
            self._unindex_paths(old)
            if task is None:
                self.tasks.remove(old)
                self.polls.pop(task_id, None)
        if task is not None:
            self.tasks.put(task)
            self._index_paths(task)

    def install_key(self, record: ApiKey) -> None:
        self.keys[record.key] = record

    def install_account(self, account: Account) -> None:
        for i, mine in enumerate(self.accounts):
            if mine.instance_id == account.instance_id:
                self.accounts[i] = account
                return
        self.accounts.append(account)

    def clock_state(self) -> tuple[str, bool, int]:
        """(timing profile, virtual, the virtual now or the real clock's offset) for a shared store."""
        clock = self.clock
        return self.profile.name, clock.virtual, clock.now_ms() if clock.virtual else clock.offset_ms

    def restore_clock(self, profile: str, virtual: bool, value: int) -> None:
        self.profile = resolve_profile(profile)
        self.clock = VirtualClock(value) if virtual else Clock(offset_ms=value)

    # ----------------------------------------------------------------------------- setup and reset
    def _set_profile(self, name: str) -> None:
        self.profile: TimingProfile = resolve_profile(name)
        current = getattr(self, "clock", None)
        if self.profile.virtual_clock and not isinstance(current, VirtualClock):
            self.clock: Clock = VirtualClock() if current is None else VirtualClock(current.now_ms())
        elif current is None:
            self.clock = Clock()
        elif not self.profile.virtual_clock and isinstance(current, VirtualClock):
            # back to real time: continue from the virtual present so that time never goes backwards
            self.clock = Clock(continue_from=current.now_ms())

    def _build_world(self) -> None:
        self.accounts: list[Account] = [
            Account(
                instance_id=a.instance_id,
                channel_id=a.channel_id or a.instance_id,
                guild_id=a.guild_id,
                modes=list(a.modes),
                remix=a.remix,
                remix_auto_submit=a.remix_auto_submit,
                enabled=a.enabled,
                core_size=a.core_size,
                queue_size=a.queue_size,
                remark=a.remark,
            )
            for a in self.settings.accounts
        ]
        self.keys: dict[str, ApiKey] = {}
        for k in self.settings.keys:
            self.keys[k.key] = self._new_key(k.key, k.balance, k.rate_limit, k.allowed_operations)
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.loose_uploads: dict[str, list[str]] = {}  # key → paths of its uploads that belong to no task
        self.key_seen: dict[str, float] = {}  # any-key mode: key → when it was last used (monotonic s)
        self._last_sweep = time.monotonic()
        self.attachments: dict[str, tuple[str, str]] = {}  # path → (task id, "final" | "preview")
        self.refunds: list[tuple[int, str]] = []  # (due, task id): failures that give the credits back
        self.polls: dict[str, list[int]] = {}  # kept by each worker for the polls it answered

    def _new_key(
        self, key: str, balance: int | None = None, rate: float | None = None, ops: list[str] | None = None
    ) -> ApiKey:
        return ApiKey(
            key=key,
            balance=self.settings.default_balance if balance is None else balance,
            rate_limit=rate if rate is not None else self.settings.default_rate_limit,
            allowed_operations=set(ops) if ops else None,
        )

    def reset(self, key: str | None = None) -> None:
        """Forget everything, or only one tenant's tasks and balance (parallel workers stay apart)."""
        with self.transaction():
            if key is None:
                self.tasks.clear()
                self.ids.reset()
                if isinstance(self.clock, VirtualClock):
                    self.clock = VirtualClock()
                self._build_world()
                self.rules.clear()
                self.gallery.clear()
                if self.replica is not None:
                    self.replica.wipe()  # a new epoch: every worker reloads this fresh world
                for listener in self.listeners:
                    listener.reset(None)
                return
            dropped = self.tasks.drop_owner(key)
            gone = {t.id for t in dropped}
            loose = self.loose_uploads.pop(key, [])
            for path in loose:
                self.uploads.pop(path, None)
            self._mark(f"loose:{key}", *(f"upload:{path}" for path in loose), f"key:{key}")
            self.key_seen.pop(key, None)
            for account in self.accounts:
                account.release(gone)
                self._mark(f"account:{account.instance_id}")
            for task in dropped:
                self._forget(task)
            configured = next((k for k in self.settings.keys if k.key == key), None)
            if configured is not None:
                self.keys[key] = self._new_key(key, configured.balance, configured.rate_limit,
                                               configured.allowed_operations)
            else:
                self.keys.pop(key, None)  # an ad-hoc key comes back with the defaults when next used
            for listener in self.listeners:
                listener.reset(gone, key)

    def set_timing(self, name: str) -> None:
        if name not in PROFILES:
            raise param("timing", f"timing must be one of {', '.join(PROFILES)}")
        with self.transaction():
            self._set_profile(name)
            self._mark("clock")

    def advance(self, ms: int) -> int:
        with self.transaction():
            now = self.clock.advance(ms)
            self._mark("clock")
        for listener in self.listeners:
            listener.clock_moved(now)
        return now

    def now(self) -> int:
        return self.clock.now_ms()

    def image_size(self, task_id: str) -> tuple[int, int]:
        return self.gallery.size(task_id)

    # ----------------------------------------------------------------------------- the control plane's calls
    def task(self, task_id: str) -> Task | None:
        """Any tenant's task (the control plane and the dashboard see every task)."""
        with self.reading():
            return self.tasks.get(task_id)

    def status_for(self, owner: str, task_id: str) -> str | None:
        """The status of one tenant's task now, or None when it has no such task."""
        with self.reading():
            task = self.tasks.owned(owner, task_id)
            return self.status_of(task).value if task is not None else None

    def adopt(self, task: Task) -> None:
        """Store a task made elsewhere as it is (benchmarks fill a mock with copies of real tasks)."""
        with self.transaction():
            self.tasks.add(task)
            self._index_paths(task)
            self._mark_task(task)

    def clock_view(self) -> dict[str, Any]:
        """The clock as the control plane shows it: now, the timing profile, and whether time is virtual."""
        with self.reading():
            return {"now": self.now(), "timing": self.profile.name, "virtual": self.clock.virtual}

    def new_task_id(self, now_ms: int | None = None) -> str:
        """A fresh task id from the shared id source (replays hand them out for recorded tasks)."""
        with self.transaction():
            return self.ids.task_id(self.now() if now_ms is None else now_ms)

    def task_count(self) -> int:
        with self.reading():
            return len(self.tasks)

    def all_tasks(self) -> list[Task]:
        """Every task, oldest submission first."""
        with self.reading():
            return list(self.tasks.oldest())

    def timeline(self, task_id: str) -> list[dict[str, Any]] | None:
        """The transitions a task has passed so far and the polls this worker answered for it."""
        with self.reading():
            task = self.tasks.get(task_id)
            if task is None:
                return None
            reached = task.reached_index(self.now(), self.per_poll())
            events: list[dict[str, Any]] = [
                {"time": m.at, "kind": "transition", "status": m.status.value, "progress": m.progress}
                for m in task.milestones[: reached + 1]
            ]
            return events + [{"time": t, "kind": "poll"} for t in self.polls.get(task_id, [])]

    def update_key(self, key: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change a key's balance, rateLimit and allowedOperations at once; None: no such key."""
        record = self.api_key(key)
        if record is None:
            return None
        with self.transaction():
            record = self.keys[key]
            if "balance" in changes:
                record.balance = changes["balance"]
            if "rateLimit" in changes:
                record.set_rate_limit(changes["rateLimit"], self.limiter)
            if "allowedOperations" in changes:
                ops = changes["allowedOperations"]
                record.allowed_operations = set(ops) if ops is not None else None
            self._mark(f"key:{key}")
            return record.describe()

    def account_views(self) -> list[dict[str, Any]]:
        with self.reading():
            return [a.describe(self.now()) for a in self.accounts]

    def update_account(self, instance_id: str, changes: dict[str, Any], core_size: int | None) -> dict[str, Any] | None:
        """Set an account's attributes (`changes`) and resize its slots; None: no such account."""
        with self.transaction():
            account = next((a for a in self.accounts if a.instance_id == instance_id), None)
            if account is None:
                return None
            for attr, value in changes.items():
                setattr(account, attr, value)
            if core_size is not None:
                account.resize(core_size)
            self._mark(f"account:{instance_id}")
            return account.describe(self.now())

    # rules: matched and counted inside a transaction, so `times: N` is exact across workers
    def add_rule(self, match: dict[str, Any], respond: dict[str, Any], times: int | None) -> Rule:
        with self.transaction():
            self._mark("rules")
            return self.rules.add(match, respond, times)

    def has_rules(self) -> bool:
        with self.reading():
            return bool(self.rules.items)

    def take_rule(self, facts: RequestFacts) -> Rule | None:
        with self.transaction():
            rule = self.rules.take(facts)
            if rule is not None:
                self._mark("rules")
            return rule

    def delete_rule(self, rule_id: str) -> bool:
        with self.transaction():
            self._mark("rules")
            return self.rules.delete(rule_id)

    def clear_rules(self) -> None:
        with self.transaction():
            self._mark("rules")
            self.rules.clear()

    def rule_views(self) -> list[dict[str, Any]]:
        with self.reading():
            return self.rules.views()

    # what the gallery reads
    def served_file(self, path: str) -> tuple[tuple[bytes, str] | None, Task | None, str | None, int]:
        """(upload bytes and type, or the task and which of its files, and the task's milestone index)."""
        with self.reading():
            upload = self.uploads.get(path)
            target = self.attachments.get(path)
            task = self.tasks.get(target[0]) if target else None
            index = task.reached_index(self.now(), self.per_poll()) if task is not None else 0
            return upload, task, target[1] if target else None, index

    def upload_bytes(self, path: str) -> bytes:
        with self.reading():
            return self.uploads[path][0]

    def new_upload_path(self, channel: str, name: str, ext: str, taken: set[str]) -> str:
        """A fresh, unguessable path for an uploaded image (ids drawn in a transaction: unique across workers)."""
        with self.transaction():
            while True:  # 64 random bits collide about never; checking makes it never
                message = self.ids.snowflake(self.now())
                path = f"/attachments/{channel}/{message}/{name}_{self.ids.token()}.{ext}"
                if path not in taken and path not in self.uploads:
                    return path

    # ----------------------------------------------------------------------------- keys and money
    def api_key(self, key: str) -> ApiKey | None:
        """The key's record; any key is welcome unless the settings list the accepted ones."""
        with self.reading():
            found = self.keys.get(key)
        if found is None and not self.settings.keys and key:
            with self.transaction():  # a first use: the key joins with the defaults
                found = self.keys.get(key)
                if found is None:
                    found = self.keys[key] = self._new_key(key)
                    self._mark(f"key:{key}")
        if found is not None and not self.settings.keys and self.replica is None:
            # With a shared store another worker may be serving the key: idle keys are not swept there.
            with self.lock:
                self._note_use(key)
        return found

    def _note_use(self, key: str) -> None:
        """Any-key mode: remember when a key was used; now and then forget the keys unused for long
        (their tasks, uploads and balance), so that a stream of throwaway keys cannot fill memory."""
        now = time.monotonic()
        self.key_seen[key] = now
        idle = self.settings.idle_key_seconds
        if now - self._last_sweep < min(60.0, idle / 4):
            return
        self._last_sweep = now
        for stale in [k for k, seen in self.key_seen.items() if now - seen > idle]:
            self.reset(stale)

    def throttle(self, record: ApiKey) -> float | None:
        """Count a request of this key against its rate limit; the seconds to wait when it is used up."""
        return record.throttle(self.limiter)

    def balance(self, key: str) -> int:
        with self.transaction():
            self._apply_refunds()
            record = self.api_key(key)
            return record.balance if record else 0

    def key_views(self) -> list[dict[str, Any]]:
        with self.transaction():
            self._apply_refunds()
            return [k.describe() for k in self.keys.values()]

    def polls_of(self, task_id: str) -> list[int]:
        return list(self.polls.get(task_id, []))

    def _apply_refunds(self) -> None:
        now = self.now()
        while self.refunds and self.refunds[0][0] <= now:
            _, task_id = heapq.heappop(self.refunds)
            self._mark("refunds")
            task = self.tasks.get(task_id)
            if task is not None:
                self._refund(task)

    def _refund(self, task: Task) -> None:
        if task.refunded or not task.price:
            return
        task.refunded = True
        self._mark_task(task)
        record = self.keys.get(task.owner)
        if record is not None:
            record.balance += task.price
            self._mark(f"key:{task.owner}")

    # ----------------------------------------------------------------------------- reading tasks
    def model_defaults(self) -> Defaults:
        """The model versions a prompt gets when it names none (settings default_version, default_niji)."""
        return Defaults(self.settings.default_version, self.settings.default_niji)

    def per_poll(self) -> bool:
        return self.profile.per_poll

    def snapshot(self, task: Task, origin: str, index: int | None = None) -> dict[str, Any]:
        """The task JSON as a client sees it at `index` (default: now) — every key, always."""
        if index is None:
            index = task.reached_index(self.now(), self.per_poll())
        m = task.milestone(index)
        reached = task.statuses_until(index)
        started = Status.IN_PROGRESS in reached or m.status is Status.SUCCESS
        props: dict[str, Any] = dict(task.properties)
        image_url = None
        prompt, prompt_en = task.prompt, task.prompt_en
        if task.prompt_after_start and not started:
            prompt = prompt_en = None  # blend: Midjourney renders the prompt only when the job starts
        if started:
            props["progressMessageId"] = task.progress_message_id
            if task.final_prompt is not None:
                props["finalPrompt"] = task.final_prompt
        if m.status is Status.IN_PROGRESS and percent(m.progress) > 0 and task.recipe_has_image():
            image_url = self._url(origin, task, "preview")
            props["messageHash"] = task.message_hash
        if m.status is Status.SUCCESS:
            if task.reveal_prompt is not None:
                prompt = prompt_en = task.reveal_prompt
            if task.image_recipe is not None:
                image_url = self._url(origin, task, "final")
            props.update(messageId=task.message_id, flags=0)
            if task.message_hash:
                props["messageHash"] = task.message_hash
        status_time_end = m.at if m.status in TERMINAL else None
        fail_reason = None
        if m.status is Status.FAILURE:
            fail_reason = task.fail_reason
        elif m.status is Status.CANCEL:
            fail_reason = self.dialect.messages["cancelled"]
        return self.dialect.strings_for_nulls({
            "id": task.id,
            "action": task.action.value,
            "status": m.status.value,
            "progress": m.progress,
            "prompt": prompt,
            "promptEn": prompt_en,
            "description": task.description,
            "state": task.state,
            "submitTime": task.submit_time,
            "startTime": task.time_of(Status.SUBMITTED, index),
            "finishTime": status_time_end,
            "imageUrl": image_url,
            "failReason": fail_reason,
            "buttons": btn.buttons_for(task.button_set, task.message_hash, task.final_prompt, self.model_defaults())
            if m.status is Status.SUCCESS
            else [],
            "properties": props,
            **self._media_fields(task, m.status, origin),
        })

    def _media_fields(self, task: Task, status: Status, origin: str) -> dict[str, Any]:
        """The fields newer proxies add to every task (null where they say nothing): a finished video
        task lists each video of its batch with a thumbnail, and its cover frames."""
        fields: dict[str, Any] = {"version": self.dialect.model_label(task.version), "imageUrls": None,
                                  "videoUrl": None, "videoUrls": None, "contentType": None}
        if not is_video(task.image_recipe):
            return fields
        fields["contentType"] = "video/mp4"
        if status is Status.SUCCESS:
            base = (self.settings.public_url or origin).rstrip("/")
            by_variant = {self.attachments[p][1]: base + p for p in task.media_paths if p in self.attachments}
            count = video_count(task.image_recipe)
            fields["videoUrls"] = [{"url": by_variant[f"video:{i}"], "thumbnail": by_variant[f"thumb:{i}"]}
                                   for i in range(count)]
            fields["imageUrls"] = [{"url": by_variant[f"frame:{i}"], "thumbnail": by_variant[f"thumb:{i}"]}
                                   for i in range(count)]
            fields["videoUrl"] = fields["videoUrls"][0]["url"]
        return fields

    def media_url(self, caller: Caller, task: Task, variant: str) -> str:
        """The absolute URL of one video, thumbnail or cover frame of a video task ("video:0", …)."""
        path = next(p for p in task.media_paths if self.attachments.get(p, ("", ""))[1] == variant)
        return (self.settings.public_url or caller.origin).rstrip("/") + path

    def _url(self, origin: str, task: Task, variant: str) -> str:
        base = (self.settings.public_url or origin).rstrip("/")
        return base + (task.final_path if variant == "final" else task.preview_path or "")

    def _poll(self, task: Task) -> None:
        """Record a poll; in per-poll timing, move the task one milestone."""
        now = self.now()
        log = self.polls.setdefault(task.id, [])
        if len(log) < 200:
            log.append(now)
        if not self.per_poll():
            return
        known = sum(1 for m in task.milestones if m.at is not None)
        if known < len(task.milestones):
            task.milestones[known].at = max(now, task.milestones[known - 1].at or now)
            self._mark_task(task)
            if task.milestones[known].status is Status.FAILURE:
                self._refund(task)
            for listener in self.listeners:
                listener.milestone_reached(task, known)

    def _polling(self) -> AbstractContextManager[object]:
        """What a poll holds: in per-poll timing a poll moves the task (a write), otherwise it only reads."""
        if self.replica is None:
            return self.lock
        with self.reading():  # the timing profile as every worker last set it
            per_poll = self.profile.per_poll
        return self.transaction() if per_poll else self.reading()

    def fetch(self, caller: Caller, task_id: str) -> dict[str, Any] | None:
        with self._polling():
            task = self.tasks.owned(caller.key, str(task_id).strip())
            if task is None:
                return None
            self._poll(task)
            return self.snapshot(task, caller.origin)

    def list_by_ids(self, caller: Caller, ids: list[Any] | None) -> list[dict[str, Any]]:
        with self._polling():
            found = []
            seen: set[str] = set()
            for raw in ids or []:
                task_id = str(raw).strip()
                task = self.tasks.owned(caller.key, task_id)
                if task is None or task_id in seen:
                    continue
                seen.add(task_id)
                self._poll(task)
                found.append(self.snapshot(task, caller.origin))
            return found

    def list_all(self, caller: Caller) -> list[dict[str, Any]]:
        with self.reading():
            # newest first; a stable sort keeps submission order among tasks of the same millisecond
            tasks = sorted(self.tasks.of_owner(caller.key), key=lambda t: t.submit_time)[::-1]
            return [self.snapshot(t, caller.origin) for t in tasks[: self.settings.list_limit]]

    def queue(self, caller: Caller) -> list[dict[str, Any]]:
        with self.reading():
            waiting = (Status.NOT_START, Status.SUBMITTED, Status.IN_PROGRESS)
            tasks = [t for t in self.tasks.of_owner(caller.key) if self.status_of(t) in waiting]
            tasks.sort(key=lambda t: (t.submit_time, t.id))
            return [self.snapshot(t, caller.origin) for t in tasks]

    def task_for(self, caller: Caller, task_id: Any) -> Task:
        task = self.tasks.owned(caller.key, str(task_id).strip())
        if task is None:
            raise Refusal("not_found", f"task {task_id} does not exist", params={"task_id": task_id})
        return task

    def status_of(self, task: Task) -> Status:
        return task.milestones[task.reached_index(self.now(), self.per_poll())].status

    def image_seed(self, caller: Caller, task_id: Any) -> str:
        with self.reading():
            task = self.task_for(caller, task_id)
            status = self.status_of(task)
            if status is not Status.SUCCESS or task.seed is None:
                why = "made no image" if task.seed is None else f"is {status.value}, not SUCCESS"
                raise param("task_status", f"task {task.id} {why}: there is no image seed")
            return task.seed

    # ----------------------------------------------------------------------------- submitting
    def choose_account(self, flt: dict[str, Any] | None, mode: str | None) -> Account:
        now = self.now()
        candidates = [a for a in self.accounts if a.matches(flt) and (mode is None or mode in a.modes)]
        if not candidates:
            raise Refusal("account_unavailable", "no enabled account matches the account filter")
        # The proxy's default rule (BestWaitIdle): the fewest tasks waiting, counted as running + waiting
        # - core size, so an account with free slots wins; ties go to the first configured account.
        return min(candidates, key=lambda a: sum(a.load(now)) - a.core_size)

    def _price(self, action: Action) -> int:
        return int(self.settings.prices.get(action.value, 0))

    def _check_mode(self, key: str, mode: str) -> None:
        """A key configured with `modes` may run only those (a relay refuses the rest with HTTP 403)."""
        allowed = next((k.modes for k in self.settings.keys if k.key == key), None)
        if allowed is not None and mode not in allowed:
            raise Refusal("mode_forbidden", f"this API key may not use {mode} mode (it may use "
                          f"{', '.join(allowed) or 'none'})", params={"mode": mode})

    def _check_balance(self, key: str, price: int) -> ApiKey:
        record = self.api_key(key)
        self._apply_refunds()
        if record is None or record.balance < price:
            have = record.balance if record else 0
            raise Refusal(
                "insufficient_balance",
                f"this submission costs {price} and the balance of this key is {have}",
                params={"price": price, "balance": have},
            )
        return record

    def outcome_for(self, caller: Caller, prompt: str | None) -> tuple[str | None, Outcome]:
        """The prompt without its directive, and the outcome asked for (header/rule first)."""
        cleaned, directive = split_directive(prompt) if prompt else (prompt, None)
        return cleaned, parse_outcome(caller.outcome or directive)

    def english(self, prompt: str) -> str:
        return translate(prompt, self.settings.glossary)

    def banned_word(self, prompt_en: str) -> str | None:
        return find_banned(prompt_en, self.banned)

    def launch(self, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome) -> Accepted:
        with self.transaction():
            return self._launch(caller, spec, body, outcome)

    def _launch(self, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome) -> Accepted:
        account = spec.account or self.choose_account(body.get("accountFilter"), caller.mode)
        mode = mode_of(caller.mode, spec.final_prompt or spec.prompt_en)
        self._check_mode(caller.key, mode)
        price = price_in_mode(self._price(spec.action), mode, self.settings.mode_prices)
        record = self._check_balance(caller.key, price)
        now = self.now()
        task_id = self.ids.task_id(now)
        modal = spec.modal or outcome.kind == "modal"
        task = Task(
            id=task_id,
            owner=caller.key,
            action=spec.action,
            submit_time=now,
            prompt=spec.prompt,
            prompt_en=spec.prompt_en,
            description=spec.description.replace("{id}", task_id),
            state=_text(body.get("state")),
            button_set=spec.button_set,
            account_id=account.instance_id,
            parent_id=spec.parent.id if spec.parent else None,
            custom_id=spec.custom_id,
            image_recipe=spec.recipe,
            final_prompt=spec.final_prompt,
            reveal_prompt=spec.reveal_prompt,
            choices=spec.choices,
            source_prompt=spec.source_prompt,
            prompt_after_start=spec.prompt_after_start,
            modal_kind=spec.modal_kind,
        )
        hook = _text(body.get("notifyHook")) or self.settings.notify_hook or None
        task.properties = {
            "notifyHook": hook,
            "nonce": self.ids.snowflake(now),
            "discordInstanceId": account.instance_id,
            "discordChannelId": account.channel_id,
            "botType": spec.bot_type,
        }
        if caller.mode:
            task.properties["mode"] = caller.mode
        if spec.parent is not None:
            task.properties["referencedMessageId"] = spec.parent.message_id
        task.message_hash = self.ids.image_hash() if spec.button_set != "describe" else None
        task.message_id = self.ids.snowflake(now)
        task.progress_message_id = (
            spec.parent.message_id if spec.parent is not None else self.ids.snowflake(now)
        )
        # describe shows the image it was sent: Midjourney made no image, so there is no seed
        task.seed = self.ids.seed_value() if task.recipe_has_image() else None
        if task.recipe_has_image() and spec.bot_type != "INSIGHT_FACE" and not is_video(spec.recipe):
            task.version = version_of(spec.final_prompt or spec.prompt_en, self.model_defaults()).name
        task.origin = caller.origin
        task.callback_fault = caller.callback_fault
        task.callback_delay_ms = caller.callback_delay_ms
        task.outcome = outcome
        task.steps = spec.steps
        self._register_paths(task)
        accepted_properties = {"discordInstanceId": account.instance_id, "discordChannelId": account.channel_id}
        if modal:
            task.set_milestones([Milestone(Status.MODAL, None, now)])
            task.description_after_modal = task.description
            if spec.modal_kind == "custom_zoom":  # upstream shows the window's state as the description
                task.description = self.dialect.messages["modal"]
            self._charge(record, task, price)
            self._add(task)
            props = {**accepted_properties, "finalPrompt": spec.final_prompt or spec.prompt_en or "", "remix": True}
            return Accepted("modal", task.id, props)
        queued_ahead = self._schedule(task, account, [Milestone(Status.NOT_START, None, now)], outcome)
        self._charge(record, task, price)
        self._add(task)
        self._announce(task, 1)
        if queued_ahead is not None:
            return Accepted(
                "queued", task.id, {**accepted_properties, "numberOfQueues": queued_ahead}, {"ahead": queued_ahead}
            )
        return Accepted("ok", task.id, accepted_properties)

    def _add(self, task: Task) -> None:
        self.tasks.add(task)
        self._mark_task(task)
        self._evict_beyond_cap()

    def _register_paths(self, task: Task) -> None:
        if task.image_recipe is None:
            return
        if task.image_recipe.get("kind") == "source":
            # describe: the image shown is the one that was sent, already served from its upload URL
            task.final_path = task.image_recipe["path"]
            return
        channel = task.properties["discordInstanceId"]
        slug = "".join(ch if ch.isalnum() else "_" for ch in (task.prompt_en or task.action.value)[:40])
        final = f"/attachments/{channel}/{task.message_id}/user_{slug.strip('_') or 'image'}_{task.message_hash}.png"
        preview = f"/attachments/{channel}/{task.progress_message_id}/{task.message_hash}_grid_0.webp"
        task.final_path, task.preview_path = final, preview
        task.media_paths.extend(media_paths(task, channel))
        self._index_paths(task)

    def _index_paths(self, task: Task) -> None:
        """Serve the task's files at their paths (an upload's path is served from the uploads instead)."""
        if task.image_recipe is None or task.image_recipe.get("kind") == "source" or not task.final_path:
            return
        self.attachments[task.final_path] = (task.id, "final")
        if task.preview_path:
            self.attachments[task.preview_path] = (task.id, "preview")
        if task.media_paths:
            variants = media_paths(task, task.properties["discordInstanceId"])
            for path in task.media_paths:
                self.attachments[path] = (task.id, variants[path])

    def _unindex_paths(self, task: Task) -> None:
        for path in (task.final_path, task.preview_path, *task.media_paths):
            self.attachments.pop(path or "", None)

    def _charge(self, record: ApiKey, task: Task, price: int) -> None:
        record.balance -= price
        task.price = price
        self._mark(f"key:{record.key}")

    def _schedule(
        self, task: Task, account: Account, head: list[Milestone], outcome: Outcome
    ) -> int | None:
        """Give the task its path from `head` on; the number of tasks ahead when it is queued."""
        now = self.now()
        plan: Plan = outcome.plan(task.steps, self.dialect.timeout_reason)
        if plan.fail_reason:
            task.fail_reason = plan.fail_reason
        if self.per_poll():
            path = build_path(self.profile.for_action(task.action.value), plan, None)
            head[-1].at = now
            if task.milestones:
                task.extend(head + path)  # a confirmed window: MODAL stays in the path
            else:
                task.set_milestones(head + path)
            return 1 if outcome.kind == "queued" else None
        try:
            reservation = account.reserve(now, self.profile.dispatch_ms, task.id)
        except QueueFull:
            running, waiting = account.load(now)
            raise Refusal(
                "queue_full",
                "the queue is full",
                properties={"discordInstanceId": account.instance_id},
                params={"running": running, "waiting": waiting},
            ) from None
        start = reservation.start
        if outcome.kind == "queued":
            start += 5 * max(self.profile.step_ms, 1)  # waits as if others were ahead
        path = build_path(self.profile.for_action(task.action.value), plan, start, self.ids.fraction())
        account.occupy(reservation, slot_hold(path), task.id)
        self._mark(f"account:{account.instance_id}")
        if task.milestones:
            task.extend(head + path)
        else:
            task.set_milestones(head + path)
        last = task.milestones[-1]
        if last.status is Status.FAILURE and last.at is not None:
            heapq.heappush(self.refunds, (last.at, task.id))
            self._mark("refunds")
        waits = reservation.must_wait if self.dialect.queued_rule == "must_wait" else reservation.ahead > 0
        if waits or outcome.kind == "queued":
            return reservation.ahead
        return None

    def _announce(self, task: Task, first_index: int) -> None:
        for listener in self.listeners:
            listener.task_scheduled(task, first_index)

    # ----------------------------------------------------------------------------- modal and cancel
    def confirm_modal(self, caller: Caller, task_id: Any, prompt: str, recipe: dict[str, Any],
                      updates: dict[str, Any], uploads: list[tuple[str, bytes, str]]) -> Accepted:
        """Move a MODAL task on. It is scheduled first: if that is refused (queue full) nothing changed."""
        with self.transaction():
            task = self.task_for(caller, task_id)
            self._mark_task(task)
            account = next(a for a in self.accounts if a.instance_id == task.account_id)
            outcome = task.outcome or Outcome()
            if outcome.kind == "modal":
                outcome = Outcome()
            index = len(task.milestones)
            queued = self._schedule(task, account, [Milestone(Status.NOT_START, None, self.now())], outcome)
            cleaned, _ = split_directive(prompt)
            task.prompt, task.prompt_en = prompt, self.english(cleaned)
            task.final_prompt = task.prompt_en
            if task.image_recipe is not None:
                task.image_recipe = {**task.image_recipe, **recipe}
            # the window is confirmed: Custom Zoom stops saying "Waiting for window confirm"
            task.description = task.description_after_modal or task.description
            if "notifyHook" in updates:
                task.properties["notifyHook"] = updates["notifyHook"]
            task.state = updates.get("state", task.state)
            self.keep_uploads(task, uploads)
            self._announce(task, index + 1)
            props = {"discordInstanceId": account.instance_id, "discordChannelId": account.channel_id}
            if queued is not None:
                return Accepted("queued", task.id, {**props, "numberOfQueues": queued}, {"ahead": queued})
            return Accepted("ok", task.id, props)

    def _evict_beyond_cap(self) -> None:
        """Past `max_tasks`, forget the oldest finished tasks (never an unfinished one) down to 99% of
        the cap, so the work is done once per hundredth of the cap and not at every submission."""
        cap = self.settings.max_tasks
        if len(self.tasks) <= cap:
            return
        self._apply_refunds()  # a failure's refund is due when it fails: give it before forgetting it
        target = cap - cap // 100 - 1 if cap >= 100 else cap
        excess = len(self.tasks) - max(target, 0)
        now = self.now()
        evicted = []
        for task in self.tasks.oldest():
            if len(evicted) >= excess:
                break
            if task.milestones[task.reached_index(now, self.per_poll())].status in TERMINAL:
                evicted.append(task)
        for task in evicted:
            self.tasks.remove(task)
            self._forget(task)
        if evicted:
            for notify in self.on_evict:
                notify([t.id for t in evicted], cap)

    def _forget(self, task: Task) -> None:
        """Everything kept beside a task that leaves the world: its polls, uploads and served files."""
        self.polls.pop(task.id, None)
        self._mark_task(task)  # written as gone
        for path in task.uploads:
            self.uploads.pop(path, None)
            self._mark(f"upload:{path}")
        self._unindex_paths(task)

    def keep_uploads(self, task: Task | None, uploads: list[tuple[str, bytes, str]],
                     owner: str | None = None) -> None:
        """Serve these images from now on; those of a task go when its tenant is reset."""
        for path, data, mime in uploads:
            self.uploads[path] = (data, mime)
            self._mark(f"upload:{path}")
        if task is not None:
            task.uploads.extend(path for path, _, _ in uploads)
            self._mark_task(task)
        elif owner is not None:
            self._mark(f"loose:{owner}")
            # uploads with no task (/upload-discord-images) belong to their key: freed by its reset,
            # and only the latest MAX_LOOSE_UPLOADS of a key are kept
            paths = self.loose_uploads.setdefault(owner, [])
            paths.extend(path for path, _, _ in uploads)
            while len(paths) > MAX_LOOSE_UPLOADS:
                gone = paths.pop(0)
                self.uploads.pop(gone, None)
                self._mark(f"upload:{gone}")

    def cancel(self, caller: Caller, task_id: Any) -> Accepted:
        with self.transaction():
            task = self.task_for(caller, task_id)
            self._mark_task(task)
            index = task.reached_index(self.now(), self.per_poll())
            status = task.milestones[index].status
            if status in TERMINAL:
                raise param("task_status", f"task {task.id} is already {status.value}: it cannot be cancelled")
            # Cut the path at the present and end it in CANCEL; the slot is given back.
            del task.milestones[index + 1 :]
            task.extend([Milestone(Status.CANCEL, "", max(self.now(), task.milestones[-1].at or 0))])
            for account in self.accounts:
                account.release({task.id})
                self._mark(f"account:{account.instance_id}")
            self._refund(task)
            self._announce(task, len(task.milestones) - 1)
            return Accepted("ok", task.id, {})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
