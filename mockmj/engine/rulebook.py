"""The control plane's rules as operations: matched and counted inside a transaction, so that a rule's
`times: N` is exact across workers."""

from __future__ import annotations

from typing import Any

from mockmj.engine.rules import RequestFacts, Rule
from mockmj.engine.world import World


class RuleBook:
    def __init__(self, world: World) -> None:
        self.world = world

    def add(self, match: dict[str, Any], respond: dict[str, Any], times: int | None) -> Rule:
        with self.world.transaction():
            return self.world.edit_rules().add(match, respond, times)

    def any(self) -> bool:
        """Are there rules? (World.has_rules)"""
        return self.world.has_rules()

    def take(self, facts: RequestFacts) -> Rule | None:
        """The first rule matching these facts, one of its uses counted."""
        with self.world.transaction():
            rule = self.world.rules.take(facts)
            if rule is not None:  # a use was counted (a miss changes nothing: no write for every request)
                self.world.edit_rules()
            return rule

    def delete(self, rule_id: str) -> bool:
        with self.world.transaction():
            return self.world.edit_rules().delete(rule_id)

    def clear(self) -> None:
        with self.world.transaction():
            self.world.edit_rules().clear()

    def views(self) -> list[dict[str, Any]]:
        with self.world.reading():
            return self.world.rules.views()
