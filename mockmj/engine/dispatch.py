"""Accounts and their slots: which account runs a task, when it starts, and its path through the statuses."""

from __future__ import annotations

from typing import Any

from mockmj.engine.accounts import Account, NoRoom
from mockmj.engine.world import World
from mockmj.model.errors import AccountUnavailable, QueueFull
from mockmj.model.outcomes import Outcome
from mockmj.model.tasks import Milestone, Status, Task
from mockmj.model.timing import Plan, build_path, slot_hold


class Dispatch:
    def __init__(self, world: World) -> None:
        self.world = world

    def choose(self, flt: dict[str, Any] | None, mode: str | None) -> Account:
        now = self.world.now()
        candidates = [a for a in self.world.all_accounts() if a.matches(flt) and (mode is None or mode in a.modes)]
        if not candidates:
            raise AccountUnavailable()
        # The proxy's default rule (BestWaitIdle): the fewest tasks waiting, counted as running + waiting
        # - core size, so an account with free slots wins; ties go to the first configured account.
        return min(candidates, key=lambda a: sum(a.load(now)) - a.core_size)

    def account(self, instance_id: str | None) -> Account | None:
        return self.world.account(instance_id)

    def first_channel(self) -> str:
        """The channel uploads are posted to (the proxy uploads through its first account)."""
        return self.world.accounts[0].channel_id

    def release(self, task_ids: set[str]) -> None:
        """Give back the slots and queue places of these tasks (cancelled, or their tenant reset)."""
        for account in self.world.all_accounts():
            account.release(task_ids)

    def schedule(self, task: Task, account: Account, head: list[Milestone], outcome: Outcome) -> int | None:
        """Give the task its path from `head` on; the number of tasks ahead when it is queued."""
        world = self.world
        now, profile = world.now(), world.profile
        plan: Plan = outcome.plan(task.steps, world.dialect.timeout_reason)
        if plan.fail_reason:
            task.fail_reason = plan.fail_reason
        if profile.per_poll:
            path = build_path(profile.for_action(task.action.value), plan, None)
            head[-1].at = now
            if task.milestones:
                task.extend(head + path)  # a confirmed window: MODAL stays in the path
            else:
                task.set_milestones(head + path)
            return 1 if outcome.kind == "queued" else None
        try:
            reservation = account.reserve(now, profile.dispatch_ms, task.id)
        except NoRoom:
            raise QueueFull(account.instance_id, *account.load(now)) from None
        start = reservation.start
        if outcome.kind == "queued":
            start += 5 * max(profile.step_ms, 1)  # waits as if others were ahead
        path = build_path(profile.for_action(task.action.value), plan, start, world.ids.fraction())
        account.occupy(reservation, slot_hold(path), task.id)
        if task.milestones:
            task.extend(head + path)
        else:
            task.set_milestones(head + path)
        last = task.milestones[-1]
        if last.status is Status.FAILURE and last.at is not None:
            world.push_refund(last.at, task.id)
        waits = reservation.must_wait if world.dialect.queued_rule == "must_wait" else reservation.ahead > 0
        if waits or outcome.kind == "queued":
            return reservation.ahead
        return None

    # ----------------------------------------------------------------------------- the control plane's
    def views(self) -> list[dict[str, Any]]:
        with self.world.reading():
            now = self.world.now()
            return [a.describe(now) for a in self.world.accounts]

    def update(self, instance_id: str, changes: dict[str, Any], core_size: int | None) -> dict[str, Any] | None:
        """Set an account's attributes (`changes`) and resize its slots; None: no such account."""
        with self.world.transaction():
            account = self.world.account(instance_id)
            if account is None:
                return None
            for attr, value in changes.items():
                setattr(account, attr, value)
            if core_size is not None:
                account.resize(core_size)
            return account.describe(self.world.now())
