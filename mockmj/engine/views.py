"""The task JSON as a client sees it at a moment — every key, always — and a task's timeline."""

from __future__ import annotations

from typing import Any

from mockmj.engine.attachments import Attachments
from mockmj.engine.calls import Caller
from mockmj.engine.world import World
from mockmj.media.video_gallery import is_video, video_count
from mockmj.model import buttons as btn
from mockmj.model.tasks import TERMINAL, Status, Task, percent
from mockmj.model.versions import Defaults


class TaskViews:
    def __init__(self, world: World, attachments: Attachments) -> None:
        self.world = world
        self.attachments = attachments

    def defaults(self) -> Defaults:
        """The model versions a prompt gets when it names none (settings default_version, default_niji)."""
        return Defaults(self.world.settings.default_version, self.world.settings.default_niji)

    def task_for(self, caller: Caller, task_id: Any) -> Task:
        """The caller's task, or a not-found refusal (another key's task looks like no task at all)."""
        return self.world.task_for(caller.key, task_id)

    def status_of(self, task: Task) -> Status:
        return self.world.status_of(task)

    def snapshot(self, task: Task, origin: str, index: int | None = None) -> dict[str, Any]:
        """The task JSON at milestone `index` (default: now)."""
        if index is None:
            index = self.world.reached(task)
        m = task.milestone(index)
        reached = task.statuses_until(index)
        started = Status.IN_PROGRESS in reached or m.status is Status.SUCCESS
        props: dict[str, Any] = dict(task.properties)
        image_url = None
        prompt, prompt_en = task.prompt, task.prompt_en
        if task.prompt_after_start and not started:
            prompt = prompt_en = None  # blend: Midjourney renders the prompt only when the job starts
        if started:
            props["progressMessageId"] = task.progress_message_id
            if task.final_prompt is not None:
                props["finalPrompt"] = task.final_prompt
        if m.status is Status.IN_PROGRESS and percent(m.progress) > 0 and task.recipe_has_image():
            image_url = self.attachments.url(origin, task, "preview")
            props["messageHash"] = task.message_hash
        if m.status is Status.SUCCESS:
            if task.reveal_prompt is not None:
                prompt = prompt_en = task.reveal_prompt
            if task.image_recipe is not None:
                image_url = self.attachments.url(origin, task, "final")
            props.update(messageId=task.message_id, flags=0)
            if task.message_hash:
                props["messageHash"] = task.message_hash
        fail_reason = None
        if m.status is Status.FAILURE:
            fail_reason = task.fail_reason
        elif m.status is Status.CANCEL:
            fail_reason = self.world.dialect.messages["cancelled"]
        return self.world.dialect.strings_for_nulls({
            "id": task.id,
            "action": task.action.value,
            "status": m.status.value,
            "progress": m.progress,
            "prompt": prompt,
            "promptEn": prompt_en,
            "description": task.description,
            "state": task.state,
            "submitTime": task.submit_time,
            "startTime": task.time_of(Status.SUBMITTED, index),
            "finishTime": m.at if m.status in TERMINAL else None,
            "imageUrl": image_url,
            "failReason": fail_reason,
            "buttons": btn.buttons_for(task.button_set, task.message_hash, task.final_prompt, self.defaults())
            if m.status is Status.SUCCESS
            else [],
            "properties": props,
            **self._media_fields(task, m.status, origin),
        })

    def _media_fields(self, task: Task, status: Status, origin: str) -> dict[str, Any]:
        """The fields newer proxies add to every task (null where they say nothing): a finished video
        task lists each video of its batch with a thumbnail, and its cover frames."""
        fields: dict[str, Any] = {"version": self.world.dialect.model_label(task.version), "imageUrls": None,
                                  "videoUrl": None, "videoUrls": None, "contentType": None}
        if not is_video(task.image_recipe):
            return fields
        fields["contentType"] = "video/mp4"
        if status is Status.SUCCESS:
            by_variant = self.attachments.media_urls(origin, task)
            count = video_count(task.image_recipe)
            fields["videoUrls"] = [{"url": by_variant[f"video:{i}"], "thumbnail": by_variant[f"thumb:{i}"]}
                                   for i in range(count)]
            fields["imageUrls"] = [{"url": by_variant[f"frame:{i}"], "thumbnail": by_variant[f"thumb:{i}"]}
                                   for i in range(count)]
            fields["videoUrl"] = fields["videoUrls"][0]["url"]
        return fields

    def timeline(self, task_id: str) -> list[dict[str, Any]] | None:
        """The transitions a task has passed so far and the polls this worker answered for it."""
        world = self.world
        with world.reading():
            task = world.task(task_id)
            if task is None:
                return None
            events: list[dict[str, Any]] = [
                {"time": m.at, "kind": "transition", "status": m.status.value, "progress": m.progress}
                for m in task.milestones[: world.reached(task) + 1]
            ]
            return events + [{"time": t, "kind": "poll"} for t in world.polls.get(task_id, [])]
