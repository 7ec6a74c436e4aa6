"""Control rules: "the next 3 imagine submissions get code 25", "every action waits 2 s", …

A rule matches on operation, button kind or action, key, prompt text and account, and fires for the
next N matches or until deleted. Matching and counting happen under one lock, so N is exact even
under concurrent requests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from mockmj.model.masking import mask_key_field


@dataclass
class Rule:
    id: str
    match: dict[str, Any]
    respond: dict[str, Any]
    times: int | None
    remaining: int | None
    fired: int = 0

    def view(self) -> dict[str, Any]:
        match = mask_key_field(self.match)  # a rule may name a key: show it masked, like every listing
        return {"id": self.id, "match": match, "respond": self.respond, "times": self.times,
                "remaining": self.remaining, "fired": self.fired}


@dataclass
class RequestFacts:
    operation: str
    actions: set[str]
    key: str
    prompt: str
    account: str


def _matches(rule: Rule, facts: RequestFacts) -> bool:
    m = rule.match
    if m.get("operation") and m["operation"] != facts.operation:
        return False
    if m.get("action") and str(m["action"]).lower() not in facts.actions:
        return False
    if m.get("key") and m["key"] != facts.key:
        return False
    if m.get("prompt") and str(m["prompt"]).lower() not in facts.prompt.lower():
        return False
    return not (m.get("account") and m["account"] != facts.account)


@dataclass
class Rules:
    items: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def add(self, match: dict[str, Any], respond: dict[str, Any], times: int | None) -> Rule:
        with self._lock:
            self._counter += 1
            rule = Rule(f"rule-{self._counter}", match or {}, respond, times, times)
            self.items.append(rule)
            return rule

    def take(self, facts: RequestFacts) -> Rule | None:
        """The first rule that matches, counted as fired (and removed when its count is spent)."""
        with self._lock:
            for rule in self.items:
                if _matches(rule, facts):
                    rule.fired += 1
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self.items.remove(rule)
                    return rule
        return None

    def delete(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self.items)
            self.items = [r for r in self.items if r.id != rule_id]
            return len(self.items) != before

    def clear(self) -> None:
        with self._lock:
            self.items = []

    def state(self) -> tuple[list[Rule], int]:
        with self._lock:
            return list(self.items), self._counter

    def restore(self, state: tuple[list[Rule], int]) -> None:
        with self._lock:
            self.items, self._counter = list(state[0]), state[1]

    def views(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.view() for r in self.items]
