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
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import buttons as btn
from .accounts import Account, ApiKey, QueueFull
from .clock import Clock, VirtualClock
from .dialects import DIALECTS, Dialect
from .errors import Refusal, param
from .gallery import Gallery
from .ids import IdSource
from .outcomes import Outcome, parse_outcome, split_directive
from .profile_file import resolve_profile
from .prompts import DEFAULT_BANNED_WORDS, banned_pattern, find_banned, translate
from .settings import Settings
from .store import TaskStore
from .tasks import TERMINAL, Action, Milestone, Status, Task, percent
from .timing import PROFILES, Plan, TimingProfile, build_path, slot_hold
from .versions import version_of
from .video_gallery import is_video, media_paths, video_count

ANONYMOUS = "anonymous"
MAX_LOOSE_UPLOADS = 100  # per key: uploads that belong to no task


class Listener(Protocol):
    """What the engine tells about its tasks (implemented by the callback scheduler)."""

    def task_scheduled(self, task: Task, first_index: int) -> None: ...
    def milestone_reached(self, task: Task, index: int) -> None: ...
    def clock_moved(self, now: int) -> None: ...
    def reset(self, gone: set[str] | None) -> None: ...


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
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect: Dialect = DIALECTS[settings.dialect]
        self.lock = threading.RLock()
        self.ids = IdSource(settings.seed)
        self.store = TaskStore()
        self.banned = banned_pattern(settings.banned_words or DEFAULT_BANNED_WORDS)
        self.listeners: list[Listener] = []  # the callback scheduler
        self.on_evict: list[Callable[[list[str], int], None]] = []  # told which tasks max_tasks evicted
        self.gallery = Gallery(self)
        self._set_profile(settings.timing)
        self._build_world()

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
        self._refunds: list[tuple[int, str]] = []  # (due, task id): failures that give the credits back
        self.polls: dict[str, list[int]] = {}

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
        with self.lock:
            if key is None:
                self.store.clear()
                self.ids.reset()
                if isinstance(self.clock, VirtualClock):
                    self.clock = VirtualClock()
                self._build_world()
                self.gallery.clear()
                for listener in self.listeners:
                    listener.reset(None)
                return
            dropped = self.store.drop_owner(key)
            gone = {t.id for t in dropped}
            for path in self.loose_uploads.pop(key, []):
                self.uploads.pop(path, None)
            self.key_seen.pop(key, None)
            for account in self.accounts:
                account.release(gone)
            for task in dropped:
                self._forget(task)
            configured = next((k for k in self.settings.keys if k.key == key), None)
            if configured is not None:
                self.keys[key] = self._new_key(key, configured.balance, configured.rate_limit,
                                               configured.allowed_operations)
            else:
                self.keys.pop(key, None)  # an ad-hoc key comes back with the defaults when next used
            for listener in self.listeners:
                listener.reset(gone)

    def set_timing(self, name: str) -> None:
        if name not in PROFILES:
            raise param("timing", f"timing must be one of {', '.join(PROFILES)}")
        with self.lock:
            self._set_profile(name)

    def advance(self, ms: int) -> int:
        with self.lock:
            now = self.clock.advance(ms)
        for listener in self.listeners:
            listener.clock_moved(now)
        return now

    def now(self) -> int:
        return self.clock.now_ms()

    def image_size(self, task_id: str) -> tuple[int, int]:
        return self.gallery.size(task_id)

    # ----------------------------------------------------------------------------- keys and money
    def api_key(self, key: str) -> ApiKey | None:
        """The key's record; any key is welcome unless the settings list the accepted ones."""
        with self.lock:
            found = self.keys.get(key)
            if found is None and not self.settings.keys and key:
                found = self.keys[key] = self._new_key(key)
            if found is not None and not self.settings.keys:
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

    def balance(self, key: str) -> int:
        with self.lock:
            self._apply_refunds()
            record = self.api_key(key)
            return record.balance if record else 0

    def key_views(self) -> list[dict[str, Any]]:
        with self.lock:
            self._apply_refunds()
            return [k.describe() for k in self.keys.values()]

    def polls_of(self, task_id: str) -> list[int]:
        return list(self.polls.get(task_id, []))

    def _apply_refunds(self) -> None:
        now = self.now()
        while self._refunds and self._refunds[0][0] <= now:
            _, task_id = heapq.heappop(self._refunds)
            task = self.store.get(task_id)
            if task is not None:
                self._refund(task)

    def _refund(self, task: Task) -> None:
        if task.refunded or not task.price:
            return
        task.refunded = True
        record = self.keys.get(task.owner)
        if record is not None:
            record.balance += task.price

    # ----------------------------------------------------------------------------- reading tasks
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
        return {
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
            "buttons": btn.buttons_for(task.button_set, task.message_hash, task.final_prompt)
            if m.status is Status.SUCCESS
            else [],
            "properties": props,
            **self._media_fields(task, m.status, origin),
        }

    def _media_fields(self, task: Task, status: Status, origin: str) -> dict[str, Any]:
        """The fields newer proxies add to every task (null where they say nothing): a finished video
        task lists each video of its batch with a thumbnail, and its cover frames."""
        fields: dict[str, Any] = {"version": task.version, "imageUrls": None, "videoUrl": None, "videoUrls": None,
                                  "contentType": None}
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
            if task.milestones[known].status is Status.FAILURE:
                self._refund(task)
            for listener in self.listeners:
                listener.milestone_reached(task, known)

    def fetch(self, caller: Caller, task_id: str) -> dict[str, Any] | None:
        with self.lock:
            task = self.store.owned(caller.key, str(task_id).strip())
            if task is None:
                return None
            self._poll(task)
            return self.snapshot(task, caller.origin)

    def list_by_ids(self, caller: Caller, ids: list[Any] | None) -> list[dict[str, Any]]:
        with self.lock:
            found = []
            seen: set[str] = set()
            for raw in ids or []:
                task_id = str(raw).strip()
                task = self.store.owned(caller.key, task_id)
                if task is None or task_id in seen:
                    continue
                seen.add(task_id)
                self._poll(task)
                found.append(self.snapshot(task, caller.origin))
            return found

    def list_all(self, caller: Caller) -> list[dict[str, Any]]:
        with self.lock:
            # newest first; a stable sort keeps submission order among tasks of the same millisecond
            tasks = sorted(self.store.of_owner(caller.key), key=lambda t: t.submit_time)[::-1]
            return [self.snapshot(t, caller.origin) for t in tasks[: self.settings.list_limit]]

    def queue(self, caller: Caller) -> list[dict[str, Any]]:
        with self.lock:
            waiting = (Status.NOT_START, Status.SUBMITTED, Status.IN_PROGRESS)
            tasks = [t for t in self.store.of_owner(caller.key) if self.status_of(t) in waiting]
            tasks.sort(key=lambda t: (t.submit_time, t.id))
            return [self.snapshot(t, caller.origin) for t in tasks]

    def task_for(self, caller: Caller, task_id: Any) -> Task:
        task = self.store.owned(caller.key, str(task_id).strip())
        if task is None:
            raise Refusal("not_found", f"task {task_id} does not exist", params={"task_id": task_id})
        return task

    def status_of(self, task: Task) -> Status:
        return task.milestones[task.reached_index(self.now(), self.per_poll())].status

    def image_seed(self, caller: Caller, task_id: Any) -> str:
        with self.lock:
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
        with self.lock:
            return self._launch(caller, spec, body, outcome)

    def _launch(self, caller: Caller, spec: NewTask, body: dict[str, Any], outcome: Outcome) -> Accepted:
        account = spec.account or self.choose_account(body.get("accountFilter"), caller.mode)
        price = self._price(spec.action)
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
            task.version = version_of(spec.final_prompt or spec.prompt_en).name
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
            self.store.add(task)
            self._evict_beyond_cap()
            props = {**accepted_properties, "finalPrompt": spec.final_prompt or spec.prompt_en or "", "remix": True}
            return Accepted("modal", task.id, props)
        queued_ahead = self._schedule(task, account, [Milestone(Status.NOT_START, None, now)], outcome)
        self._charge(record, task, price)
        self.store.add(task)
        self._evict_beyond_cap()
        self._announce(task, 1)
        if queued_ahead is not None:
            return Accepted(
                "queued", task.id, {**accepted_properties, "numberOfQueues": queued_ahead}, {"ahead": queued_ahead}
            )
        return Accepted("ok", task.id, accepted_properties)

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
        self.attachments[final] = (task.id, "final")
        self.attachments[preview] = (task.id, "preview")
        for path, variant in media_paths(task, channel).items():
            self.attachments[path] = (task.id, variant)
            task.media_paths.append(path)

    def _charge(self, record: ApiKey, task: Task, price: int) -> None:
        record.balance -= price
        task.price = price

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
        if task.milestones:
            task.extend(head + path)
        else:
            task.set_milestones(head + path)
        last = task.milestones[-1]
        if last.status is Status.FAILURE and last.at is not None:
            heapq.heappush(self._refunds, (last.at, task.id))
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
        with self.lock:
            task = self.task_for(caller, task_id)
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
        if len(self.store) <= cap:
            return
        self._apply_refunds()  # a failure's refund is due when it fails: give it before forgetting it
        target = cap - cap // 100 - 1 if cap >= 100 else cap
        excess = len(self.store) - max(target, 0)
        now = self.now()
        evicted = []
        for task in self.store.oldest():
            if len(evicted) >= excess:
                break
            if task.milestones[task.reached_index(now, self.per_poll())].status in TERMINAL:
                evicted.append(task)
        for task in evicted:
            self.store.remove(task)
            self._forget(task)
        if evicted:
            for notify in self.on_evict:
                notify([t.id for t in evicted], cap)

    def _forget(self, task: Task) -> None:
        """Everything kept beside a task that leaves the store: its polls, uploads and served files."""
        self.polls.pop(task.id, None)
        for path in task.uploads:
            self.uploads.pop(path, None)
        for path in (task.final_path, task.preview_path, *task.media_paths):
            self.attachments.pop(path or "", None)

    def has_upload(self, path: str) -> bool:
        return path in self.uploads

    def keep_uploads(self, task: Task | None, uploads: list[tuple[str, bytes, str]],
                     owner: str | None = None) -> None:
        """Serve these images from now on; those of a task go when its tenant is reset."""
        for path, data, mime in uploads:
            self.uploads[path] = (data, mime)
        if task is not None:
            task.uploads.extend(path for path, _, _ in uploads)
        elif owner is not None:
            # uploads with no task (/upload-discord-images) belong to their key: freed by its reset,
            # and only the latest MAX_LOOSE_UPLOADS of a key are kept
            paths = self.loose_uploads.setdefault(owner, [])
            paths.extend(path for path, _, _ in uploads)
            while len(paths) > MAX_LOOSE_UPLOADS:
                self.uploads.pop(paths.pop(0), None)

    def cancel(self, caller: Caller, task_id: Any) -> Accepted:
        with self.lock:
            task = self.task_for(caller, task_id)
            index = task.reached_index(self.now(), self.per_poll())
            status = task.milestones[index].status
            if status in TERMINAL:
                raise param("task_status", f"task {task.id} is already {status.value}: it cannot be cancelled")
            # Cut the path at the present and end it in CANCEL; the slot is given back.
            del task.milestones[index + 1 :]
            task.extend([Milestone(Status.CANCEL, "", max(self.now(), task.milestones[-1].at or 0))])
            for account in self.accounts:
                account.release({task.id})
            self._refund(task)
            self._announce(task, len(task.milestones) - 1)
            return Accepted("ok", task.id, {})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
