"""Video results as real bytes: MP4s, their WEBP thumbnails and cover frames, rendered on first fetch.

A VIDEO task's recipe says where each of its videos starts (an uploaded image, an image task's
picture, or the last frame of another task's video), where it ends (an end image, a loop, or free),
how it moves and how many videos the batch holds. An UPSCALE of a video (`video_upscale`) is one
video of its parent's batch again, twice the size. Nothing is stored but the recipe: any frame can
be recomputed, and the encoded bytes sit in the gallery's bounded cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mockmj.media import images, video
from mockmj.media.pillow import Image

if TYPE_CHECKING:
    from mockmj.model.tasks import Task


class Gallery(Protocol):
    """What the video half needs of the gallery that holds it (gallery.py), so neither imports the other."""

    def encoded(self, key: Any, make: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]: ...
    def recipe_of(self, task_id: str) -> tuple[dict[str, Any], str]: ...
    def upload_image(self, path: str) -> Image.Image: ...
    def picture(self, task_id: str) -> Image.Image: ...

VIDEO_KINDS = ("video", "video_upscale")


def is_video(recipe: dict[str, Any] | None) -> bool:
    return recipe is not None and recipe.get("kind") in VIDEO_KINDS


def video_count(recipe: dict[str, Any] | None) -> int:
    if not is_video(recipe):
        return 0
    assert recipe is not None
    return int(recipe.get("batch", 4)) if recipe["kind"] == "video" else 1


def media_paths(task: Task, channel: str) -> dict[str, str]:
    """path → variant for every video, thumbnail and cover frame of a task (named as Midjourney's CDN names them)."""
    stem = f"/attachments/{channel}/{task.message_id}/{task.message_hash}"
    paths: dict[str, str] = {}
    for i in range(video_count(task.image_recipe)):
        paths[f"{stem}_0_{i}.mp4"] = f"video:{i}"
        paths[f"{stem}_0_{i}_640_N.webp"] = f"thumb:{i}"
        paths[f"{stem}_0_{i}.png"] = f"frame:{i}"
    return paths


class Videos:
    """The gallery's video half: clips from recipes, and the bytes served for them."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery

    def serve(self, task_id: str, variant: str) -> tuple[bytes, str]:
        what, index = variant.split(":")
        return self.gallery.encoded((what, task_id, int(index)), lambda: self._render(what, task_id, int(index)))

    def _render(self, what: str, task_id: str, index: int) -> tuple[bytes, str]:
        clip = self.clip(task_id, index)
        if what == "video":
            return video.render_mp4(clip), "video/mp4"
        cover = video.frame_at(clip, 0.5)
        if what == "thumb":
            return images.encode_webp(images.fit_within(cover, video.THUMBNAIL_LONG_SIDE)), "image/webp"
        return images.encode_png(cover), "image/png"

    def picture(self, recipe: dict[str, Any], task_id: str) -> Image.Image:
        """What imageUrl shows for a video task: the middle frame of each video, side by side (2×2 for four)."""
        covers = [video.frame_at(self.clip(task_id, i), 0.5) for i in range(video_count(recipe))]
        columns = 2 if len(covers) == 4 else len(covers)
        width, height = covers[0].size
        sheet = Image.new("RGB", (width * columns, height * (len(covers) // columns)))
        for i, cover in enumerate(covers):
            sheet.paste(cover, (i % columns * width, i // columns * height))
        return sheet

    def clip(self, task_id: str, index: int) -> video.Clip:
        recipe, seed = self.gallery.recipe_of(task_id)
        if recipe["kind"] == "video_upscale":
            parent = self.clip(recipe["parent"], recipe.get("index", 0))
            width, height = parent.size
            size = video.video_size((width * 2, height * 2), video.HD_LONG_SIDE)
            end = video.fit(parent.end, size) if parent.end is not None else None
            return video.Clip(video.fit(parent.start, size), parent.seed, parent.motion, end)
        source = recipe["start"]
        start = self._image(source)
        if "video" in source:
            size = start.size  # an extend continues at the size of the video it extends
        else:
            size = video.video_size(start.size, int(recipe.get("long_side", video.SD_LONG_SIDE)))
        start = video.fit(start, size)
        end = None
        if recipe.get("loop"):
            end = start
        elif recipe.get("end"):
            end = video.fit(self._image(recipe["end"]), size)
        return video.Clip(start, f"{seed}:{index}", recipe.get("motion", "low"), end)

    def _image(self, source: dict[str, Any]) -> Image.Image:
        if "upload" in source:
            return self.gallery.upload_image(source["upload"])
        if "task" in source:
            return self.gallery.picture(source["task"])
        return video.frame_at(self.clip(source["video"], source.get("index", 0)), 1.0)  # where it stopped
