"""default_version: V8.1 unless set; `default_version="7"` answers as the mock did while V7 was its default.

data/v7_sample.json is that sample: the session of pinned_script.py recorded with the code of the V7-default
mock (after the relay-string fix). In the 88api dialect the pinned mock must repeat it byte for byte; in the
proxy dialect too, except that `version` is now written as trueai writes it ("v 7" for "7")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mockmj.config import ConfigError, load_settings
from tests.engine import pinned_script

SAMPLE = json.loads((Path(__file__).parent / "data" / "v7_sample.json").read_text(encoding="utf-8"))


def test_pinned_v7_repeats_the_sample_byte_for_byte_in_the_88api_dialect() -> None:
    assert pinned_script.run("88api", default_version="7") == SAMPLE["88api"]


def test_pinned_v7_repeats_the_sample_in_the_proxy_dialect_but_for_the_version_label() -> None:
    relabelled = [re.sub(r'"version":"(?!niji)([0-9.]+)"', r'"version":"v \1"', line) for line in SAMPLE["proxy"]]
    assert relabelled != SAMPLE["proxy"]  # the sample has versions to relabel
    assert pinned_script.run("proxy", default_version="7") == relabelled


def test_the_default_is_v8_1_and_differs_from_the_sample() -> None:
    answers = pinned_script.run("88api")
    assert answers != SAMPLE["88api"]
    first_grid = next(line for line in answers if line.startswith("fetch") and '"SUCCESS"' in line)
    assert '"version":"8.1"' in first_grid
    buttons = next(line for line in answers if line.startswith("buttons"))
    assert json.loads(buttons.removeprefix("buttons ")) == [
        "low_variation", "high_variation", "1", first_hash(answers), "animate_high", "animate_low"]


def first_hash(answers: list[str]) -> str:
    """The hash of the first upscaled image (its ❤️ button's id ends in it)."""
    line = next(line for line in answers if line.startswith("buttons"))
    return json.loads(line.removeprefix("buttons "))[3]


@pytest.mark.parametrize(("value", "ok"), [("8.1", True), ("8", True), ("7", True), ("6.1", True), ("6", True),
                                           ("5.2", True), ("9", False), ("niji 7", False), ("v7", False)])
def test_default_version_takes_the_versions_of_the_table(value: str, ok: bool) -> None:
    if ok:
        assert load_settings(default_version=value).default_version == value
    else:
        with pytest.raises(ConfigError, match=r"default_version must be one of 8\.1, 8, 7, 6\.1, 6, 5\.2"):
            load_settings(default_version=value)


def test_default_version_and_niji_from_the_environment_and_the_file(tmp_path: Path) -> None:
    settings = load_settings(environ={"MOCKMJ_DEFAULT_VERSION": "7", "MOCKMJ_DEFAULT_NIJI": "6"})
    assert (settings.default_version, settings.default_niji) == ("7", "6")
    config = tmp_path / "mockmj.toml"
    config.write_text('default_version = "6.1"\ndefault_niji = "7"\n', encoding="utf-8")
    settings = load_settings(config)
    assert (settings.default_version, settings.default_niji) == ("6.1", "7")
    with pytest.raises(ConfigError, match="default_niji must be one of 7, 6"):
        load_settings(default_niji="5")
