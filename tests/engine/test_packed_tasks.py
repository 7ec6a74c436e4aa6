"""A finished task packed by the memory store's index comes back whole, and tells where it is filed (its owner and
image hash) from the head of its bytes, so that forgetting it needs no unpacking."""

from __future__ import annotations

import pytest

from mockmj.engine.task_index import Packer
from mockmj.model.tasks import Action, Leaving, Task

UUID = "7b9fd1ab-40bb-407b-ba01-16a8e56a758e"


def task(task_id: str, owner: str, image_hash: str | None) -> Task:
    return Task(id=task_id, owner=owner, action=Action.IMAGINE, submit_time=0, prompt="a lighthouse",
                message_hash=image_hash)


@pytest.mark.parametrize(("owner", "image_hash"), [
    ("tenant-a", UUID),
    ("tenant-a", UUID.upper()),  # not the text a UUID gives back: kept as text
    ("tenant-a", "made-by-hand"),
    ("tenant-a", None),
    ("clé \udcff 鍵", "hash \udcff"),  # any text a header may carry, a lone surrogate included
])
def test_a_packed_task_is_filed_by_its_head_and_unpacks_whole(owner: str, image_hash: str | None) -> None:
    packer = Packer()
    packer.pack(task("1717200000000001", "first", UUID))  # the preset dictionary of those after it
    original = task("1717200000000002", owner, image_hash)
    data = packer.pack(original)
    assert packer.leaving(original.id, data) == Leaving(original.id, owner, image_hash, ())
    assert packer.unpack(data) == original


def test_a_packed_task_with_uploads_is_unpacked_to_name_them() -> None:
    packer = Packer()
    original = task("1717200000000003", "tenant-a", UUID)
    original.uploads.extend(["/attachments/1/2/a.png"])
    assert packer.leaving(original.id, packer.pack(original)) == Leaving(original.id, "tenant-a", UUID,
                                                                         ("/attachments/1/2/a.png",))
