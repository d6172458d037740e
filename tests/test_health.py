"""Liveness and readiness, including a Redis restart under a running server."""

from __future__ import annotations

import time

import httpx

from backend import db
from tests.servers import carnet_server


async def test_healthz_and_readyz(client: httpx.AsyncClient):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_names_the_database_when_it_fails(client: httpx.AsyncClient, monkeypatch):
    async def down() -> None:
        raise ConnectionRefusedError

    monkeypatch.setattr(db, "ping", down)
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["database"]


def _wait_status(url: str, status: int, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=5)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readyz_follows_redis_down_and_back_without_a_restart(
    migrated, server_env, private_redis
):
    env = {**server_env, "REDIS_URL": private_redis.url}
    with carnet_server(env) as base:
        assert _wait_status(f"{base}/readyz", 200).status_code == 200
        private_redis.stop()
        down = _wait_status(f"{base}/readyz", 503)
        assert down.status_code == 503
        assert down.json()["failed"] == ["redis"]
        assert httpx.get(f"{base}/healthz").status_code == 200  # alive all along
        private_redis.start()
        back = _wait_status(f"{base}/readyz", 200)
        assert back.status_code == 200, back.text
