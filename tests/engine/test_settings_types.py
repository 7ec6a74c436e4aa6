"""The option types live in the model layer (model/settings.py) and are checked by pydantic: strictly, nested values
too, with a message that names the setting and says what was wrong."""

from __future__ import annotations

from typing import Any

import pytest

import mockmj.config
from mockmj.model import settings as core_settings
from mockmj.model.settings import AccountConfig, KeyConfig, Settings


@pytest.mark.parametrize(("changes", "words"), [
    ({"port": "8080"}, ["setting port", "integer", "'8080'"]),
    ({"port": True}, ["setting port", "integer", "True"]),  # a bool is not a number here
    ({"default_rate_limit": False}, ["default_rate_limit", "number"]),
    ({"strict": 1}, ["setting strict", "boolean"]),
    ({"banned_words": ("ogre",)}, ["banned_words", "list"]),
    ({"prices": {"IMAGINE": 2.5}}, ["prices.IMAGINE", "integer", "2.5"]),
    ({"glossary": {1: "one"}}, ["glossary[1] (its key)", "string"]),
    ({"keys": [KeyConfig(key="k", balance="many")]}, ["keys[0].balance", "integer", "'many'"]),
    ({"accounts": [AccountConfig(), AccountConfig(modes="FAST")]}, ["accounts[1].modes", "list", "'FAST'"]),
])
def test_a_wrong_type_names_the_setting_and_the_value(changes: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        Settings(**changes).check()
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("changes", [
    {},
    {"default_rate_limit": 2},  # an int where a float is wanted is fine
    {"seed": None, "public_url": None},
    {"keys": [KeyConfig(key="k", rate_limit=0.5, allowed_operations=["fetchTask"])]},
])
def test_right_types_pass_and_are_left_as_they_are(changes: dict[str, Any]) -> None:
    settings = Settings(**changes)
    settings.check()
    assert all(getattr(settings, name) == value for name, value in changes.items())
    assert all(type(getattr(settings, name)) is type(value) for name, value in changes.items())


def test_config_reexports_the_core_types() -> None:
    assert mockmj.config.Settings is core_settings.Settings
    assert mockmj.config.KeyConfig is core_settings.KeyConfig
    assert mockmj.config.AccountConfig is core_settings.AccountConfig
    assert mockmj.config.DEFAULT_PRICES is core_settings.DEFAULT_PRICES
    assert mockmj.config.store_kind("sqlite:/tmp/x.db") == Settings(store="sqlite:/tmp/x.db").store_kind() == "sqlite"


@pytest.mark.parametrize("changes", [{"default_rate_limit": 0.0}, {"keys": [KeyConfig(key="k", rate_limit=-1.0)]}])
def test_a_rate_limit_is_within_its_range(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"rate_limit must be between 0\.001 and 100000"):
        Settings(**changes).check()
