"""mockmj.testcontainers against a real container of the image (see conftest.py for when these run): the
HTTP wait, get_url(), the with_* setters as the server reports them, and get_client()'s control calls."""

from __future__ import annotations

import os
import time

import pytest
import requests
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from mockmj.pytest_plugin import MockmjControlError
from mockmj.testcontainers import DEFAULT_IMAGE, MockMJContainer

IMAGE = os.environ.get("MOCKMJ_TEST_IMAGE", DEFAULT_IMAGE)


def imagine(url: str, key: str, prompt: str = "a lighthouse at dusk") -> dict:
    response = requests.post(f"{url}/mj/submit/imagine", json={"prompt": prompt},
                             headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def finished(url: str, key: str, task_id: str) -> dict:
    """Poll as a client would, bounded in count (fast timing finishes in well under a second of polls)."""
    for _ in range(200):
        task = requests.get(f"{url}/mj/task/{task_id}/fetch", headers={"Authorization": f"Bearer {key}"},
                            timeout=10).json()
        if task["status"] in ("SUCCESS", "FAILURE", "CANCEL"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still {task['status']} after 200 polls")


def test_an_imagine_reaches_success_through_the_mapped_port() -> None:
    with MockMJContainer(IMAGE).with_seed(42) as mock:
        url = mock.get_url()
        health = requests.get(f"{url}/_mockmj/health", timeout=5).json()
        assert (health["status"], health["timing"], health["auth"]) == ("ok", "fast", "keys")
        submitted = imagine(url, mock.api_key)
        assert submitted["code"] == 1, submitted
        task = finished(url, mock.api_key, submitted["result"])
        assert task["status"] == "SUCCESS", task
        image = requests.get(task["imageUrl"], timeout=10)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
        # a key the container was not given is refused: with_api_keys really reached the server
        refused = requests.post(f"{url}/mj/submit/imagine", json={"prompt": "x"},
                                headers={"Authorization": "Bearer sk-other"}, timeout=10)
        assert refused.status_code == 401


def test_setters_reach_the_server_and_the_control_helper_drives_it() -> None:
    container = (MockMJContainer(IMAGE, timing="manual").with_dialect("proxy").with_api_keys("sk-a", "sk-b")
                 .with_control_token("ct-1").with_setting("journal_size", 50))
    with container as mock:
        url = mock.get_url()
        health = requests.get(f"{url}/_mockmj/health", timeout=5).json()
        assert (health["dialect"], health["timing"]) == ("proxy", "manual")
        assert requests.get(f"{url}/_mockmj/rules", timeout=5).status_code in (401, 403)  # token needed
        control = mock.get_client()
        assert control.api_key == "sk-a"
        try:
            control.add_rule(match={"operation": "submitImagine"}, respond={"code": 25}, times=1)
            refused = imagine(url, "sk-a")
            assert refused["code"] == 25, refused
            submitted = imagine(url, "sk-a")
            assert submitted["code"] == 1, submitted
            # manual timing: nothing moves until the control helper advances the clock
            assert finished_now(url, "sk-a", submitted["result"]) == "NOT_START"
            control.advance(600)
            assert finished(url, "sk-a", submitted["result"])["status"] == "SUCCESS"
            assert [e["status"] for e in control.requests(operationId="submitImagine")] == [200, 200]
        finally:
            control.close()
        assert requests.get(f"{url}/_mockmj/rules", headers={"X-MockMJ-Control-Token": "ct-1"},
                            timeout=5).json() == []  # close() deleted the rule it added
        with pytest.raises(MockmjControlError):
            mock.get_client("sk-b").control("GET", "/tasks/no-such-task/timeline")


def finished_now(url: str, key: str, task_id: str) -> str:
    return requests.get(f"{url}/mj/task/{task_id}/fetch", headers={"Authorization": f"Bearer {key}"},
                        timeout=10).json()["status"]


def test_two_containers_on_a_network_share_the_redis_store() -> None:
    """with_store() and Testcontainers' networks: mockmj (two workers) on a redis-server container it reaches
    by its alias; a second mockmj container on the same store still knows the task the first one ran."""
    redis_image = os.environ.get("MOCKMJ_TEST_REDIS_IMAGE")
    assert redis_image, "MOCKMJ_TEST_REDIS_IMAGE names an image with redis-server (.ci/container builds one)"

    def on_redis(network: Network) -> MockMJContainer:
        return (MockMJContainer(IMAGE).with_api_keys("sk-shared").with_network(network)
                .with_store("redis://redis:6379/0").with_workers(2))

    with Network() as network:
        redis = (DockerContainer(redis_image).with_network(network).with_network_aliases("redis")
                 .waiting_for(LogMessageWaitStrategy("Ready to accept connections")))
        with redis:
            with on_redis(network) as first:
                url = first.get_url()
                assert requests.get(f"{url}/_mockmj/health", timeout=5).json()["store"] == "redis"
                task_id = imagine(url, "sk-shared")["result"]
                assert finished(url, "sk-shared", task_id)["status"] == "SUCCESS"
            with on_redis(network) as second:  # the first container is gone; the state is in Redis
                assert finished_now(second.get_url(), "sk-shared", task_id) == "SUCCESS"
