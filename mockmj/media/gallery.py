"""Turns a task's image recipe into real image bytes, lazily and with a bounded cache.

A task records how its image is made (a grid from its hash, panel 2 of its parent upscaled, its
parent zoomed out…), not the pixels. Pixels are made the first time somebody fetches the URL, and
since the recipe is deterministic a cache eviction costs only time, never correctness.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any, Protocol

from cachetools import LRUCache

from mockmj.media import images
from mockmj.media.image_input import decoded
from mockmj.media.pillow import Image
from mockmj.media.video_gallery import Videos, is_video
from mockmj.model.tasks import Status, Task

# Blend and swap inputs are brought down to this long side before rendering (results are at most
# about 1024 px), so a 40-megapixel upload costs a reduced decode, not 160 MB per input.
RENDER_INPUT_SIDE = 2048


class SourceGone(LookupError):
    """A picture is drawn from a task or an upload that is no longer kept: a child's parent (or the parent's
    upload) forgotten past `max_tasks`, which takes the oldest finished tasks first. Its file is then gone too."""


class Library(Protocol):
    """What the gallery reads of the world (the engine provides it; the gallery never changes it)."""

    def served_file(self, path: str) -> tuple[tuple[bytes, str] | None, Task | None, str | None, int]: ...
    def task(self, task_id: str) -> Task | None: ...
    def upload_bytes(self, path: str) -> bytes: ...  # raises SourceGone for an upload not kept


class _Lru:
    """cachetools' LRU behind a lock (its caches are not thread-safe by themselves)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._cache: LRUCache[Any, Any] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._cache[key] = value


class Gallery:
    def __init__(self, library: Library, pictures: int = 48, encoded: int = 96) -> None:
        self.library = library
        self._pictures = _Lru(pictures)
        self._encoded = _Lru(encoded)
        self.videos = Videos(self)

    def encoded(self, key: Any, make: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        """The bytes cached under `key`, made by `make()` on a miss (rendering is deterministic)."""
        found = self._encoded.get(key)
        if found is None:
            found = make()
            self._encoded.put(key, found)
        return found

    def clear(self) -> None:
        self._pictures = _Lru(self._pictures.size)
        self._encoded = _Lru(self._encoded.size)

    def forget(self, _task_ids: list[str], _cap: int) -> None:
        """Tasks were forgotten past `max_tasks`: a picture kept here may have been drawn from one of them (a
        child's from its parent). All are dropped, so that a file drawn from a forgotten task is gone whether
        or not it was downloaded before (one drop per hundredth of the cap)."""
        self.clear()

    # ------------------------------------------------------------------------------- serving URLs
    def attachment(self, path: str) -> tuple[bytes, str] | None:
        """The bytes and MIME type served at an /attachments/... path, or None: no such file, or one drawn from
        a task or an upload no longer kept (SourceGone)."""
        try:
            return self._attachment(path)
        except SourceGone:
            return None

    def _attachment(self, path: str) -> tuple[bytes, str] | None:
        upload, task, variant, index = self.library.served_file(path)
        if upload is not None:
            return upload
        if task is None or variant is None:
            return None
        progress = None
        if variant == "preview":
            m = task.milestone(index)
            if m.status is Status.IN_PROGRESS and m.progress:
                progress = int(m.progress.rstrip("%"))
            else:
                progress = 93 if m.status in (Status.SUCCESS,) else 0
        if variant not in ("final", "preview"):
            return self.videos.serve(task.id, variant)  # a video, its thumbnail or its cover frame
        if variant == "final":
            key = ("final", task.id)
            data = self._encoded.get(key)
            if data is None:
                data = images.encode_png(self.picture(task.id))
                self._encoded.put(key, data)
            return data, "image/png"
        key = ("preview", task.id, progress)
        data = self._encoded.get(key)
        if data is None:
            data = images.encode_webp(images.blurred_preview(self.picture(task.id), progress or 0))
            self._encoded.put(key, data)
        return data, "image/webp"

    # ------------------------------------------------------------------------------- rendering
    def picture(self, task_id: str) -> Image.Image:
        cached = self._pictures.get(task_id)
        if cached is not None:
            return cached
        recipe, seed = self.recipe_of(task_id)
        picture = self.videos.picture(recipe, task_id) if is_video(recipe) else self._render(recipe, seed)
        self._pictures.put(task_id, picture)
        return picture

    def recipe_of(self, task_id: str) -> tuple[dict[str, Any], str]:
        """A copy of the task's image recipe and the seed its pictures are drawn from."""
        task = self.library.task(task_id)
        if task is None:
            raise SourceGone(task_id)
        if task.image_recipe is None:
            raise KeyError(task_id)  # a task with no picture (a describe) is never asked for one
        return dict(task.image_recipe), task.message_hash or task.id

    def size(self, task_id: str) -> tuple[int, int]:
        return self.picture(task_id).size

    def upload_image(self, path: str) -> Image.Image:
        return self._upload(path, RENDER_INPUT_SIDE)

    def _upload(self, path: str, max_side: int | None = None) -> Image.Image:
        """An uploaded image's pixels, decoded within the memory budget (reduced to `max_side`)."""
        with decoded(self.library.upload_bytes(path), max_side) as picture:
            return picture.convert("RGB")

    def _render(self, recipe: dict[str, Any], seed: str) -> Image.Image:
        kind = recipe["kind"]
        if kind == "grid":
            return images.render_grid(seed, tuple(recipe["aspect"]), recipe.get("scale", 1))
        if kind == "source":
            return self._upload(recipe["path"])
        if kind == "blend":
            inputs = [self._upload(p, RENDER_INPUT_SIDE) for p in recipe["inputs"]]
            return images.blend(inputs, tuple(recipe["aspect"]), seed)
        if kind == "edit":
            return images.edit_grid(self._upload(recipe["source"], RENDER_INPUT_SIDE), seed)
        if kind == "retexture":
            return images.retexture_grid(self._upload(recipe["source"], RENDER_INPUT_SIDE), seed)
        if kind == "swap":
            return images.swap_face(self._upload(recipe["source"], RENDER_INPUT_SIDE),
                                    self._upload(recipe["target"], RENDER_INPUT_SIDE), seed)
        parent = self.picture(recipe["parent"])
        if kind == "upscale":
            return images.crop_panel(parent, recipe["index"])  # the cell itself, as Midjourney's U does
        if kind == "upscale_hd":
            return images.upscale(parent, recipe.get("factor", 2.0))
        if kind == "variation":
            index = recipe.get("index", 0)
            source = images.crop_panel(parent, index) if index else parent
            return images.variation_grid(source, seed, recipe.get("strength", 0.45))
        if kind == "inpaint":
            # Vary (Region) edits the image it was pressed on at its own size: outside the mask every
            # pixel of each of the four results is the parent's.
            mask = Image.open(io.BytesIO(self.library.upload_bytes(recipe["mask"]))).convert("L")
            mask = mask.resize(parent.size)
            return _grid_of([images.inpaint(parent, mask, f"{seed}:{i}") for i in range(4)])
        # Zoom and pan results come back as a grid of four cell-sized images: an upscaled (2x) parent
        # is brought down to the cell size of its aspect first; a U result already has it.
        small = images.fit_within(parent, max(images.panel_size(parent.size)))
        if kind == "zoom":
            factor = float(recipe.get("factor") or 2.0)
            return _grid_of([images.zoom_out(small, factor, f"{seed}:{i}") for i in range(4)])
        if kind == "pan":
            return _grid_of([images.pan(small, recipe["direction"], f"{seed}:{i}") for i in range(4)])
        raise ValueError(f"unknown image recipe {kind!r}")


def _grid_of(panels: list[Image.Image]) -> Image.Image:
    """Four results side by side in a 2×2 grid, the way Midjourney returns zooms, pans and regions."""
    w, h = panels[0].size
    grid = Image.new("RGB", (w * 2, h * 2))
    for i, panel in enumerate(panels):
        grid.paste(panel, ((i % 2) * w, (i // 2) * h))
    return grid
