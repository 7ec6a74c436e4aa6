"""Uploaded images and the files of tasks: their paths, the bytes kept for them, their public URLs.

Also what the gallery reads (media/gallery.py's `Library`): the gallery renders a task's images on
demand and never changes the world.
"""

from __future__ import annotations

from mockmj.engine.paths import served_paths
from mockmj.engine.world import World
from mockmj.media.gallery import SourceGone
from mockmj.model.tasks import Task

MAX_LOOSE_UPLOADS = 100  # per key: uploads that belong to no task


class Attachments:
    def __init__(self, world: World) -> None:
        self.world = world
        self.settings = world.settings

    def base(self, origin: str) -> str:
        """Where absolute links point: the configured public URL, else the request's own origin."""
        return (self.settings.public_url or origin).rstrip("/")

    def url(self, origin: str, task: Task, variant: str) -> str:
        """The URL of a task's final image or of its progress preview."""
        return self.base(origin) + (task.final_path if variant == "final" else task.preview_path or "")

    def media_url(self, origin: str, task: Task, variant: str) -> str:
        """The absolute URL of one video, thumbnail or cover frame of a video task ("video:0", …)."""
        return self.media_urls(origin, task)[variant]

    def media_urls(self, origin: str, task: Task) -> dict[str, str]:
        """variant → URL of every media file of a video task."""
        served = served_paths(task)
        return {served[p][1]: self.base(origin) + p for p in task.media_paths if p in served}

    def new_path(self, channel: str, name: str, ext: str, taken: set[str]) -> str:
        """A fresh, unguessable path for an uploaded image (ids drawn in a transaction: unique across workers)."""
        world = self.world
        with world.transaction():
            while True:  # 64 random bits collide about never; checking makes it never
                message = world.ids.snowflake(world.now())
                path = f"/attachments/{channel}/{message}/{name}_{world.ids.token()}.{ext}"
                if path not in taken and world.upload(path) is None:
                    return path

    def keep(self, task: Task | None, uploads: list[tuple[str, bytes, str]], owner: str | None = None) -> None:
        """Serve these images from now on; those of a task go with the task (or its tenant's reset)."""
        world = self.world
        for path, data, mime in uploads:
            world.put_upload(path, (data, mime))
        if task is not None:
            task.uploads.extend(path for path, _, _ in uploads)
        elif owner is not None:
            # uploads with no task (/upload-discord-images) belong to their key: freed by its reset,
            # and only the latest MAX_LOOSE_UPLOADS of a key are kept
            paths = world.loose_of(owner)
            paths.extend(path for path, _, _ in uploads)
            while len(paths) > MAX_LOOSE_UPLOADS:
                world.drop_upload(paths.pop(0))

    def drop_loose(self, owner: str) -> None:
        for path in self.world.drop_loose(owner):
            self.world.drop_upload(path)

    def upload(self, path: str) -> tuple[bytes, str] | None:
        with self.world.reading():
            return self.world.upload(path)

    # ----------------------------------------------------------------------------- what the gallery reads
    def served_file(self, path: str) -> tuple[tuple[bytes, str] | None, Task | None, str | None, int]:
        """(upload bytes and type, or the task and which of its files, and the task's milestone index)."""
        world = self.world
        with world.reading():
            upload = world.upload(path)
            served = world.served_file(path) if upload is None else None
            if served is None:
                return upload, None, None, 0
            task, variant = served
            return None, task, variant, world.reached(task)

    def task(self, task_id: str) -> Task | None:
        with self.world.reading():
            return self.world.task(task_id)

    def upload_bytes(self, path: str) -> bytes:
        with self.world.reading():
            blob = self.world.upload(path)
            if blob is None:
                raise SourceGone(path)
            return blob[0]
