"""Pillow's modules, imported the first time one of their names is used.

Importing Pillow's image modules is about a tenth of what `mockmj serve` imports before its first answer,
and most requests (fetches, the control plane, a health check) never touch an image. The media modules
name Pillow through these stand-ins; the first attribute read imports the module, and every read after
that goes through `importlib.import_module` again (a lookup in `sys.modules`, a few Python calls: small
beside drawing an image). Type checkers see the real modules.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class LazyModule:
    """Stands for the module `name` until it is needed, then forwards every attribute to it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)  # after the first time, a look-up in sys.modules

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._module(), attribute)

    def __repr__(self) -> str:
        return f"<lazily imported {self._name}>"


if TYPE_CHECKING:
    from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat
else:
    Image = LazyModule("PIL.Image")
    ImageChops = LazyModule("PIL.ImageChops")
    ImageDraw = LazyModule("PIL.ImageDraw")
    ImageFilter = LazyModule("PIL.ImageFilter")
    ImageOps = LazyModule("PIL.ImageOps")
    ImageStat = LazyModule("PIL.ImageStat")

__all__ = ["Image", "ImageChops", "ImageDraw", "ImageFilter", "ImageOps", "ImageStat", "LazyModule"]
