from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend import settings as settings_module
from backend.settings import SettingsError, generate_master_key, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    for name in settings_module.setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env, and ./var/ lands in tmp


def test_defaults_are_the_embedded_zero_setup_ones():
    s = load_settings()
    assert s.database_url.startswith("sqlite://var/")
    assert s.redis_url is None
    assert s.smtp_host is None and s.sms_webhook_url is None
    assert s.otp_ttl_seconds == 900
    assert s.carnet_env.value == "dev"
    assert s.graphiql and s.introspection


def test_reads_the_environment_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("OTP_TTL_SECONDS=120\nALLOWED_ORIGINS=https://a.fr, https://b.fr/\n")
    monkeypatch.setenv("GRAPHIQL", "false")
    s = load_settings()
    assert s.otp_ttl_seconds == 120
    assert s.allowed_origins == ["https://a.fr", "https://b.fr"]
    assert s.graphiql is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTP_TTL_SECONDS", "soon"),
        ("OTP_TTL_SECONDS", "0"),
        ("GRAPHIQL", "maybe"),
        ("CARNET_ENV", "staging"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "localhost:6379"),
        ("SMTP_PORT", "99999"),
        ("SMS_WEBHOOK_URL", "ftp://x"),
        ("CARNET_MASTER_KEY", "c2hvcnQ="),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert name in str(err.value)


def test_secrets_are_never_echoed_in_errors(monkeypatch):
    monkeypatch.setenv("CARNET_MASTER_KEY", "c2VjcmV0LXZhbHVl")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "c2VjcmV0LXZhbHVl" not in str(err.value)


def test_production_requires_a_master_key(monkeypatch):
    monkeypatch.setenv("CARNET_ENV", "production")
    with pytest.raises(SettingsError, match="CARNET_MASTER_KEY"):
        load_settings()
    key = generate_master_key()
    monkeypatch.setenv("CARNET_MASTER_KEY", key)
    s = load_settings()
    assert s.is_production and len(s.master_key()) == 32


def test_dev_master_key_is_generated_once_with_a_warning(caplog, tmp_path):
    s = load_settings()
    with caplog.at_level("WARNING"):
        first = s.master_key()
    assert "CARNET_MASTER_KEY is not set" in caplog.text
    assert (tmp_path / "var" / "master.key").stat().st_mode & 0o077 == 0
    assert load_settings().master_key() == first


def test_cli_refuses_to_start_with_a_bad_setting(tmp_path):
    env = {**os.environ, "OTP_TTL_SECONDS": "fifteen"}
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "export-schema", "--check"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "OTP_TTL_SECONDS" in result.stderr


def test_graphql_defaults_depend_on_the_environment(monkeypatch):
    dev = load_settings()
    assert (dev.graphiql, dev.introspection, dev.graphql_suggestions) == (True, True, True)
    monkeypatch.setenv("CARNET_ENV", "production")
    monkeypatch.setenv("CARNET_MASTER_KEY", generate_master_key())
    prod = load_settings()
    assert (prod.graphiql, prod.introspection, prod.graphql_suggestions) == (False, False, False)
    monkeypatch.setenv("GRAPHIQL", "true")
    assert load_settings().graphiql is True and load_settings().introspection is False
    assert prod.graphql_max_query_bytes == 64 * 1024
    assert prod.graphql_time_budget_seconds == 15


@pytest.mark.parametrize(("name", "value"), [
    ("GRAPHQL_MAX_QUERY_BYTES", "10"),
    ("GRAPHQL_CACHE_BYTES", "lots"),
    ("GRAPHQL_TIME_BUDGET_SECONDS", "0"),
    ("GRAPHQL_SUGGESTIONS", "perhaps"),
])
def test_bad_graphql_settings_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
