"""mockmj: a faithful, controllable test double for the Midjourney proxy HTTP API."""

__version__ = "0.1.0"
