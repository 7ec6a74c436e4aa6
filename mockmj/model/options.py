"""The fixed choices of options that the command line lists in its help (log formats and levels).

A leaf module on purpose: `mockmj --help` builds its option list from these names, and must not pay for
importing the settings' type checks (pydantic) to print them.
"""

from __future__ import annotations

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning")
