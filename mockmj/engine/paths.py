"""Where a task's files are served: its final image, its progress preview, and a video task's media."""

from __future__ import annotations

from mockmj.media.video_gallery import media_paths
from mockmj.model.tasks import Task


def assign_paths(task: Task) -> None:
    """Name the task's files, Discord-style (the account's channel, a message id, the prompt's words)."""
    if task.image_recipe is None:
        return
    if task.image_recipe.get("kind") == "source":
        # describe: the image shown is the one that was sent, already served from its upload URL
        task.final_path = task.image_recipe["path"]
        return
    channel = task.properties["discordInstanceId"]
    slug = "".join(ch if ch.isalnum() else "_" for ch in (task.prompt_en or task.action.value)[:40])
    name = f"user_{slug.strip('_') or 'image'}_{task.message_hash}.png"
    task.final_path = f"/attachments/{channel}/{task.message_id}/{name}"
    task.preview_path = f"/attachments/{channel}/{task.progress_message_id}/{task.message_hash}_grid_0.webp"
    task.media_paths.extend(media_paths(task, channel))


def served_paths(task: Task) -> dict[str, tuple[str, str]]:
    """path → (task id, which file) for the files the task's own images are served at (an upload's path
    is served from the uploads instead)."""
    if task.image_recipe is None or task.image_recipe.get("kind") == "source" or not task.final_path:
        return {}
    served = {task.final_path: (task.id, "final")}
    if task.preview_path:
        served[task.preview_path] = (task.id, "preview")
    if task.media_paths:
        variants = media_paths(task, task.properties["discordInstanceId"])
        served.update((path, (task.id, variants[path])) for path in task.media_paths)
    return served
