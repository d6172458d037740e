"""Whose X-Forwarded-For is believed (issue 9, item 7): only the configured proxies' (the web
app's), by default 127.0.0.1 in dev and nobody in production. A client that is not a trusted
proxy cannot choose the address the rate limits and the audit trail see."""

from __future__ import annotations

import httpx
import pytest

from backend.settings import SettingsError, generate_master_key, load_settings
from tests.identity_helpers import LOGIN
from tests.servers import carnet_server


@pytest.fixture
def no_forwarded_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def _settings(**values: object):
    return load_settings(database_url="sqlite://:memory:", carnet_master_key=generate_master_key(),
                         **values)


def test_default_trusted_proxies(no_forwarded_env: None) -> None:
    assert _settings(carnet_env="dev").trusted_proxies == "127.0.0.1"
    assert _settings(carnet_env="production").trusted_proxies == ""
    assert _settings(carnet_env="production",
                     forwarded_allow_ips=" 172.28.0.10 ").trusted_proxies == "172.28.0.10"
    assert _settings(carnet_env="dev", forwarded_allow_ips="").trusted_proxies == ""
    assert _settings(forwarded_allow_ips="10.0.0.0/8, ::1").trusted_proxies == "10.0.0.0/8,::1"


@pytest.mark.parametrize("value", ["localhost", "172.28.0.0/33", "10.0.0.1;rm", "web"])
def test_a_bad_proxy_list_names_the_variable(no_forwarded_env: None, value: str) -> None:
    with pytest.raises(SettingsError, match="FORWARDED_ALLOW_IPS"):
        _settings(forwarded_allow_ips=value)


@pytest.mark.parametrize(
    ("carnet_env", "trusted"),
    [("production", None), ("dev", "127.0.0.2"), ("dev", "")],
    ids=["production-default", "another-proxy", "nobody"],
)
async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    migrated, server_env, clean, carnet_env: str, trusted: str | None
) -> None:
    """This test client (127.0.0.1) is no trusted proxy: whatever X-Forwarded-For it sends,
    the per-address login limit counts all its attempts on its own address."""
    env = {k: v for k, v in server_env.items() if k != "FORWARDED_ALLOW_IPS"}
    env.update({"LOGIN_RATE_PER_ADDRESS": "3", "CARNET_ENV": carnet_env})
    if trusted is not None:
        env["FORWARDED_ALLOW_IPS"] = trusted
    with carnet_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            async def attempt(address: str) -> str:
                body = (await http.post("/graphql", json={"query": LOGIN, "variables": {
                    "identifier": "nobody@example.fr", "password": "wrong password!!"}},
                    headers={"X-Forwarded-For": address})).json()
                return body["data"]["login"]["__typename"]

            spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
            assert [await attempt(a) for a in spoofed] == ["InvalidCredentials"] * 3 + [
                "RateLimited"]
