"""The world the engine simulates, held as records, and the transactions that change it.

Every record a transaction may change is handed out by one of the world's accessors, and the world
notes it by type as it hands it out (`Changes`): a task, a key, an account, an upload, a key's loose
uploads, or one of the singletons (clock, refunds, rules; the id source is compared by its draws).
With a shared store the replica writes exactly those records when the transaction ends. Why on
access and not on write: tasks, keys and accounts are plain objects changed in place by the parts,
so a write cannot be intercepted; an object fetched for writing can. A part that forgets to say what
it changed can therefore not lose a write on SQLite or Redis; at worst a record read in a transaction
but left unchanged is written again. Queries (`newest`, `newest_of`, `open_of`, `keys_in_order`) are reads and
are not noted: nothing changes a task met while iterating except through `remove_task`.

The replica (replica.py) reads and installs these records through the attributes its `World`
protocol names; the parts (ledger, dispatch, attachments, views, rulebook) use the accessors.
"""

from __future__ import annotations

import heapq
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mockmj.engine.accounts import Account, ApiKey, new_key
from mockmj.engine.calls import Listener
from mockmj.engine.paths import served_paths
from mockmj.engine.replica import Replica
from mockmj.engine.rules import Rules
from mockmj.engine.stored_tasks import StoredTasks
from mockmj.engine.task_index import TaskIndex
from mockmj.model.clock import Clock, VirtualClock
from mockmj.model.dialects import DIALECTS, Dialect
from mockmj.model.errors import TaskNotFound
from mockmj.model.ids import IdSource
from mockmj.model.profile_file import resolve_profile
from mockmj.model.settings import Settings
from mockmj.model.tasks import TERMINAL, Leaving, Status, Task
from mockmj.model.timing import TimingProfile
from mockmj.store.base import Store, StoreUnavailable, no_space, open_store
from mockmj.store.records import TaskRow

# The image hash every file name of a task carries (a UUID, as Midjourney's file names carry theirs).
IMAGE_HASH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

WRITE_CHECK_S = 1.0  # health tries a write at most this often while writes go through
NO_SYNC = nullcontext()  # the memory store: the world is this process's, there is nothing to catch up on


class Singleton(Enum):
    """The records of which the world has one."""

    CLOCK = "clock"
    REFUNDS = "refunds"
    RULES = "rules"


@dataclass
class Changes:
    """What a transaction changed, by record type."""

    tasks: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    uploads: set[str] = field(default_factory=set)
    loose: set[str] = field(default_factory=set)  # owners whose list of loose uploads changed
    singletons: set[Singleton] = field(default_factory=set)

    def names(self) -> set[str]:
        """The changes as the store names its records (`kind:id`)."""
        named = {s.value for s in self.singletons}
        for kind, idents in (("task", self.tasks), ("key", self.keys), ("account", self.accounts),
                             ("upload", self.uploads), ("loose", self.loose)):
            named.update(f"{kind}:{ident}" for ident in idents)
        return named


class World:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.dialect: Dialect = DIALECTS[settings.dialect]
        self.lock = threading.RLock()
        self.ids = IdSource(settings.seed)
        self.rules = Rules()
        self.listeners: list[Listener] = []  # the callback scheduler, the access log's state feed
        self.on_evict: list[Callable[[list[str], int], None]] = []  # told which tasks max_tasks evicted
        self.on_reload: list[Callable[[], None]] = []  # caches of the world to drop (the gallery)
        self.changes = Changes()
        self._writes_checked_until = 0.0  # store_problem's last write went through until then
        self.set_profile(settings.timing, track=False)
        self.store: Store = store if store is not None else open_store(settings.store)
        # the memory store: every task held here; a shared store: the tasks in use, the rest read when asked
        self.tasks: TaskIndex | StoredTasks = (
            StoredTasks(self.store, self.finished, self.now, settings.task_cache) if self.store.shared
            else TaskIndex(self.finished, self.ends, self.now, settings.task_cache))
        self.build()
        # With a shared store this world is a replica of the store's (replica.py); with the memory store it
        # is the world, and a transaction is simply the lock.
        self.replica: Replica | None = Replica(self, self.store) if self.store.shared else None
        if self.replica is not None:
            self.replica.start()

    def build(self) -> None:
        """The world as the settings describe it: no tasks, the configured accounts and keys."""
        self.accounts: list[Account] = [Account.configured(a) for a in self.settings.accounts]
        self.keys: dict[str, ApiKey] = {
            k.key: new_key(self.settings, k.key, k.balance, k.rate_limit, k.allowed_operations)
            for k in self.settings.keys
        }
        # every upload (the memory store); with a shared store, those written by the transaction under way (the
        # rest are read from the store when asked)
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.loose_uploads: dict[str, list[str]] = {}  # key → paths of its uploads that belong to no task
        self.refunds: list[tuple[int, str]] = []  # (due, task id): failures that give the credits back
        self.polls: dict[str, list[int]] = {}  # kept by each worker for the polls it answered

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

    def polling(self) -> AbstractContextManager[object]:
        """What a poll holds: in per-poll timing a poll moves the task (a write), otherwise it only reads."""
        if self.replica is None:
            return self.lock
        with self.reading():  # the timing profile as every worker last set it
            per_poll = self.profile.per_poll
        return self.transaction() if per_poll else self.reading()

    def has_rules(self) -> bool:
        """Are there control rules? Every request asks, and the usual answer (no) spares gathering its facts. In
        memory one read of a list needs no lock (a rule added meanwhile applies from the next request on); a shared
        store's rules are read as every worker last wrote them."""
        if self.replica is None:
            return bool(self.rules.items)
        with self.replica.reading():
            return bool(self.rules.items)

    def store_problem(self) -> str | None:
        """Why the shared store does not answer now, or None: it does (always, in memory). One light read, and
        whether a SQLite store's filesystem has space left, and an empty write (a version with no records) at most
        once a second while writes go through: a store that serves reads may still refuse every write."""
        if self.replica is None:
            return None
        try:
            self.store.head()
            full = no_space(self.store.url)
            if full is not None:
                return full
            if time.monotonic() >= self._writes_checked_until:
                with self.store.exclusive():
                    self.store.put([], self.store.head())
                self._writes_checked_until = time.monotonic() + WRITE_CHECK_S
        except StoreUnavailable as exc:
            self._writes_checked_until = 0.0
            return exc.reason
        return None

    @property
    def writing(self) -> bool:
        """Inside a transaction of a shared store (only there do changes need naming)."""
        return self.replica is not None and self.replica.writing

    def _note(self, bucket: set[Any], *idents: Any) -> None:
        if self.writing:  # the memory store has nothing to write: nothing is noted
            bucket.update(idents)

    def _note_task(self, task_id: str) -> None:
        if self.writing:
            self.changes.tasks.add(task_id)
            self.tasks.pin(task_id)  # held by a shared store's cache until it is written

    def take_changes(self) -> set[str]:
        """The records changed since the last call, by name (the replica writes them)."""
        changes, self.changes = self.changes, Changes()
        return changes.names()

    # ----------------------------------------------------------------------------- tasks
    def task(self, task_id: str) -> Task | None:
        task = self.tasks.get(task_id)
        if task is not None:
            self._note_task(task_id)
        return task

    def owned(self, owner: str, task_id: str) -> Task | None:
        """A task only its owner may see: another key's task looks like no task at all."""
        task = self.tasks.owned(owner, task_id)
        if task is not None:
            self._note_task(task_id)
        return task

    def task_for(self, owner: str, task_id: object) -> Task:
        task = self.owned(owner, str(task_id).strip())
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def newest_of(self, owner: str, limit: int) -> list[Task]:
        """The owner's latest `limit` tasks, newest first."""
        return self.tasks.newest_of(owner, limit)

    def open_of(self, owner: str) -> list[Task]:
        """The owner's tasks that have not ended yet."""
        return self.tasks.open_of(owner)

    def newest(self, limit: int, owner: str | None = None) -> list[Task]:
        """The latest `limit` submissions (of one owner, or of all), newest first: a listing, not a poll."""
        return self.tasks.newest(limit, owner)

    def finished(self, task: Task) -> bool:
        return self.status_of(task) in TERMINAL

    def task_row(self, task: Task) -> TaskRow:
        """What a shared store indexes of the task."""
        return TaskRow(task.id, task.owner, self.ends(task), task.message_hash)

    @staticmethod
    def ends(task: Task) -> int | None:
        """When the task ends, once known: the time of its last milestone, a terminal one (not known while per-poll
        timing has not placed it, nor while a MODAL task waits for its window)."""
        last = task.milestones[-1]
        return last.at if last.status in TERMINAL else None

    def reached(self, task: Task) -> int:
        """The index of the milestone the task has reached now."""
        return task.reached_index(self.now(), self.profile.per_poll)

    def status_of(self, task: Task) -> Status:
        return task.milestones[self.reached(task)].status

    def add_task(self, task: Task) -> None:
        self.tasks.add(task)
        self._note_task(task.id)

    def remove_task(self, task: Leaving) -> None:
        """The task leaves the world with everything kept beside it: its polls and uploads."""
        self.tasks.remove(task)
        self.polls.pop(task.id, None)
        self._note_task(task.id)  # written as gone
        for path in task.uploads:
            self.drop_upload(path)

    def drop_owner(self, owner: str) -> list[Leaving]:
        return self._remove_each(self.tasks.leaving_owner(owner))

    def evict_finished(self, count: int) -> list[Leaving]:
        """Forget up to `count` of the oldest finished tasks (never an unfinished one)."""
        return self._remove_each(self.tasks.leaving_oldest(count))

    def _remove_each(self, tasks: list[Leaving]) -> list[Leaving]:
        for task in tasks:
            self.remove_task(task)
        return tasks

    def served_file(self, path: str) -> tuple[Task, str] | None:
        """The task whose file this path names, and which file ("final", "preview", "video:0", …): the image hash
        in the file's name finds the task, the task's own paths confirm the whole path."""
        found = IMAGE_HASH.search(path)
        task = self.tasks.by_hash(found.group(0)) if found else None
        target = served_paths(task).get(path) if task is not None else None
        return (task, target[1]) if task is not None and target is not None else None

    # ----------------------------------------------------------------------------- keys and accounts
    def key(self, key: str) -> ApiKey | None:
        record = self.keys.get(key)
        if record is not None:
            self._note(self.changes.keys, key)
        return record

    def put_key(self, record: ApiKey) -> None:
        self.keys[record.key] = record
        self._note(self.changes.keys, record.key)

    def drop_key(self, key: str) -> None:
        self.keys.pop(key, None)
        self._note(self.changes.keys, key)

    def keys_in_order(self) -> list[ApiKey]:
        return list(self.keys.values())

    def all_accounts(self) -> list[Account]:
        """Every account; in a transaction all are noted (a handful, and load() tidies what it reads)."""
        self._note(self.changes.accounts, *(a.instance_id for a in self.accounts))
        return self.accounts

    def account(self, instance_id: str | None) -> Account | None:
        found = next((a for a in self.accounts if a.instance_id == instance_id), None)
        if found is not None:
            self._note(self.changes.accounts, found.instance_id)
        return found

    # ----------------------------------------------------------------------------- uploads and refunds
    def upload(self, path: str) -> tuple[bytes, str] | None:
        blob = self.uploads.get(path)
        if blob is None and self.replica is not None:
            blob = self.replica.read_upload(path)
        return blob

    def put_upload(self, path: str, blob: tuple[bytes, str]) -> None:
        self.uploads[path] = blob
        self._note(self.changes.uploads, path)

    def drop_upload(self, path: str) -> None:
        self.uploads.pop(path, None)
        self._note(self.changes.uploads, path)

    def loose_of(self, owner: str) -> list[str]:
        """The owner's list of uploads that belong to no task, to change in place."""
        self._note(self.changes.loose, owner)
        return self.loose_uploads.setdefault(owner, [])

    def drop_loose(self, owner: str) -> list[str]:
        self._note(self.changes.loose, owner)
        return self.loose_uploads.pop(owner, [])

    def push_refund(self, due: int, task_id: str) -> None:
        heapq.heappush(self.refunds, (due, task_id))
        self._note(self.changes.singletons, Singleton.REFUNDS)

    def due_refunds(self, now: int) -> list[str]:
        """Take the refunds due by `now`: the ids of the tasks whose credits go back."""
        due = []
        while self.refunds and self.refunds[0][0] <= now:
            due.append(heapq.heappop(self.refunds)[1])
        if due:
            self._note(self.changes.singletons, Singleton.REFUNDS)
        return due

    def edit_rules(self) -> Rules:
        """The rules, to change (adding, taking one use of, deleting)."""
        self._note(self.changes.singletons, Singleton.RULES)
        return self.rules

    # ----------------------------------------------------------------------------- clock
    def poll(self, task: Task, refund: Callable[[Task], None]) -> None:
        """Record a poll; in per-poll timing, move the task one milestone (`refund`: what a FAILURE reached
        this way gives back, the ledger's business)."""
        now = self.now()
        log = self.polls.setdefault(task.id, [])
        if len(log) < 200:
            log.append(now)
        if not self.profile.per_poll:
            return
        known = sum(1 for m in task.milestones if m.at is not None)
        if known < len(task.milestones):
            task.milestones[known].at = max(now, task.milestones[known - 1].at or now)
            if task.milestones[known].status is Status.FAILURE:
                refund(task)
            for listener in self.listeners:
                listener.milestone_reached(task, known)

    def now(self) -> int:
        return self.clock.now_ms()

    def set_profile(self, name: str, track: bool = True) -> None:
        self.profile: TimingProfile = resolve_profile(name)
        current = getattr(self, "clock", None)
        if self.profile.virtual_clock and not isinstance(current, VirtualClock):
            self.clock: Clock = VirtualClock() if current is None else VirtualClock(current.now_ms())
        elif current is None:
            self.clock = Clock()
        elif not self.profile.virtual_clock and isinstance(current, VirtualClock):
            # back to real time: continue from the virtual present so that time never goes backwards
            self.clock = Clock(continue_from=current.now_ms())
        if track:
            self._note(self.changes.singletons, Singleton.CLOCK)

    def advance(self, ms: int) -> int:
        self._note(self.changes.singletons, Singleton.CLOCK)
        now = self.clock.advance(ms)
        self.tasks.tidy()  # a jump can finish many tasks at once: the memory store packs them now
        return now

    # ----------------------------------------------------------------------------- whole-world changes
    def reset(self) -> None:
        """Back to the world the settings describe, in a new epoch every worker reloads."""
        self.tasks.clear()
        self.ids.reset()
        if isinstance(self.clock, VirtualClock):
            self.clock = VirtualClock()
        self.build()
        self.rules.clear()
        for hook in self.on_reload:
            hook()
        if self.replica is not None:
            self.replica.wipe()
        self.changes = Changes()
        for listener in self.listeners:
            listener.reset(None)

    # what the replica calls to install records other workers wrote
    def forget_local_world(self) -> None:
        """Empty the in-memory world before loading the store's (a start, another worker's full reset)."""
        self.tasks.clear()
        self.keys, self.accounts = {}, []
        for kept in (self.uploads, self.loose_uploads, self.polls):
            kept.clear()
        self.refunds.clear()
        self.rules.clear()
        for hook in self.on_reload:
            hook()
        for listener in self.listeners:
            listener.reset(None)

    def install_task(self, task_id: str, value: bytes | None) -> None:
        """Another worker wrote this task's record (None: deleted it)."""
        if value is None:
            self.polls.pop(task_id, None)
        if isinstance(self.tasks, StoredTasks):  # only a shared store's worker catches up
            self.tasks.install(task_id, value)

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
