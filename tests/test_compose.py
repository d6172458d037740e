"""docker-compose.yml (production shape) against the code: no service or Docker needed.

Every environment name given to the API must be a setting the backend reads, the web app gets
only frontend settings, every long-running service has a healthcheck, the start order waits for
healthy dependencies and a successful migration, and the API's environment, once the
`${...}` placeholders are filled the way `docker compose` would, passes `load_settings()`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.settings import Environment, generate_master_key, load_settings, setting_names

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

BACKEND_SERVICES = ("api", "migrate", "worker")
# What the Reflex app may be given: its own setting plus the Reflex variables we use.
FRONTEND_SETTINGS = {
    "CARNET_API_URL",
    "REFLEX_API_URL",
    "REFLEX_DEPLOY_URL",
    "REFLEX_TELEMETRY_ENABLED",
    "REFLEX_CHECK_LATEST_VERSION",
    "REFLEX_HTTP_CLIENT_BIND_ADDRESS",
    "REFLEX_REDIS_URL",
}
POSTGRES_MAX_CONNECTIONS = 100  # the postgres image's default

# Plausible values for what an operator must (or may) export before `docker compose up`.
OPERATOR_ENV = {
    "CARNET_MASTER_KEY": generate_master_key(),
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "SMTP_HOST": "smtp.example.org",
    "SMS_WEBHOOK_URL": "https://sms.example.org/send",
    "CARNET_PUBLIC_URL": "https://carnet.example.org",
}

_PLACEHOLDER = re.compile(
    r"\$\$"  # a literal $
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^{}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(LookupError):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """`docker compose` interpolation: $$, $V, ${V}, ${V:-d}, ${V-d}, ${V:?msg}, ${V?msg}."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in env
        usable = present and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return env[name] if usable else interpolate(arg, env)
        if op in (":?", "?"):
            if not usable:
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        return env.get(name, "")

    if "${" in _PLACEHOLDER.sub("", value):
        raise AssertionError(f"unsupported (nested?) placeholder in {value!r}")
    return _PLACEHOLDER.sub(replace, value)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(item, env) for key, item in node.items()}
    return node


def environment_of(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", "NAME"]
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def is_one_shot(name: str, service: dict[str, Any], services: dict[str, Any]) -> bool:
    """Runs once: never restarted, and awaited by someone as completed successfully."""
    awaited = any(
        depends_on(other).get(name) == "service_completed_successfully"
        for other in services.values()
    )
    return str(service.get("restart", "no")) in ("no", "False", "false") and awaited


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def rendered(compose: dict[str, Any]) -> dict[str, Any]:
    """The file as `docker compose` sees it once the operator's variables are exported."""
    return interpolate_tree(compose, dict(OPERATOR_ENV))


def test_services_present(services: dict[str, Any]) -> None:
    assert {"postgres", "redis", "migrate", "api", "worker", "web"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_backend_env_names_are_real_settings(services: dict[str, Any], name: str) -> None:
    names = set(environment_of(services[name]))
    unknown = names - setting_names()
    assert not unknown, f"{name} sets variables the backend never reads: {sorted(unknown)}"


def test_api_sets_the_production_settings(services: dict[str, Any]) -> None:
    required = {
        "CARNET_ENV", "DATABASE_URL", "REDIS_URL", "CARNET_MASTER_KEY", "SMTP_HOST", "SMTP_PORT",
        "SMTP_FROM", "SMS_WEBHOOK_URL", "ALLOWED_ORIGINS", "GRAPHIQL", "INTROSPECTION",
        "OTP_TTL_SECONDS",
    }
    env = environment_of(services["api"])
    assert required <= set(env), sorted(required - set(env))
    assert env["CARNET_ENV"] == "production"
    assert str(env["GRAPHIQL"]).lower() == "false"
    assert str(env["INTROSPECTION"]).lower() == "false"
    # The master key comes from the operator's environment, never from this file.
    assert re.fullmatch(r"\$\{CARNET_MASTER_KEY:\?[^}]+\}", env["CARNET_MASTER_KEY"])


def test_migrate_uses_the_api_image_and_settings(services: dict[str, Any]) -> None:
    api, migrate = services["api"], services["migrate"]
    assert command_of(migrate)[:2] == ["carnet", "migrate"]
    assert migrate.get("image") == api.get("image")
    assert migrate.get("build") == api.get("build")
    assert environment_of(migrate) == environment_of(api)


@pytest.mark.parametrize("name", BACKEND_SERVICES + ("web", "postgres"))
def test_environment_values_are_strings(services: dict[str, Any], name: str) -> None:
    # Unquoted YAML would turn `no`, `off`, `0900` or `false` into other types.
    for key, value in environment_of(services[name]).items():
        assert isinstance(value, str), f"{name}.{key} should be a quoted string, got {value!r}"


def test_web_env_is_frontend_settings_only(services: dict[str, Any]) -> None:
    env = environment_of(services["web"])
    unknown = set(env) - FRONTEND_SETTINGS
    assert not unknown, f"web sets variables outside the frontend allow-list: {sorted(unknown)}"
    assert env["CARNET_API_URL"] == "http://api:8000/graphql"
    assert not set(env) & (setting_names() - {"CARNET_API_URL"}), "backend settings on web"


def test_frontend_allow_list_names_are_read_by_reflex() -> None:
    from reflex.config import Config
    from reflex.environment import environment

    config_fields = {field.name for field in dataclasses.fields(Config)}
    for name in FRONTEND_SETTINGS - {"CARNET_API_URL"}:
        known = name.removeprefix("REFLEX_").lower() in config_fields or hasattr(
            environment, name
        )
        assert known, f"{name} is neither a Reflex config field nor a Reflex variable"
    api_module = (ROOT / "frontend" / "carnet_web" / "api.py").read_text()
    assert '"CARNET_API_URL"' in api_module


def test_every_service_has_a_healthcheck_or_is_one_shot(services: dict[str, Any]) -> None:
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        if is_one_shot(name, service, services):
            continue
        assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"


def test_healthchecks_probe_the_right_things(services: dict[str, Any]) -> None:
    def probe(name: str) -> str:
        test = services[name]["healthcheck"]["test"]
        return " ".join(test) if isinstance(test, list) else test

    assert "pg_isready" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert "127.0.0.1:8000/readyz" in probe("api")
    assert "127.0.0.1:3000/" in probe("web")


def test_start_order(services: dict[str, Any]) -> None:
    assert depends_on(services["api"]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert depends_on(services["migrate"]) == {"postgres": "service_healthy"}
    assert depends_on(services["web"]).get("api") == "service_healthy"
    assert is_one_shot("migrate", services["migrate"], services)


def test_api_command(services: dict[str, Any]) -> None:
    command = command_of(services["api"])
    assert command[:2] == ["carnet", "serve"]
    args = dict(zip(command[2::2], command[3::2], strict=True))
    assert args == {"--host": "0.0.0.0", "--port": "8000", "--workers": "2"}


def test_connection_budget(services: dict[str, Any]) -> None:
    """Workers x pool size (+ the migration, + the job worker's two pools) stays below
    PostgreSQL's max_connections."""
    command = command_of(services["api"])
    workers = int(command[command.index("--workers") + 1])
    pool = load_settings(
        database_url="sqlite://:memory:",
        db_pool_max_size=environment_of(services["api"]).get("DB_POOL_MAX_SIZE", "5"),
    ).db_pool_max_size
    worker = command_of(services["worker"])
    concurrency = int(worker[worker.index("--concurrency") + 1])
    # Tortoise's pool for the jobs, procrastinate's (backend/jobs/queue.py: concurrency + 3).
    job_worker = pool + min(10, concurrency + 3)
    assert workers * pool + pool + job_worker < POSTGRES_MAX_CONNECTIONS


def test_worker_service(services: dict[str, Any]) -> None:
    """`carnet worker` from the API's image and settings, after the migration, restarted,
    healthy while it touches its health file, with the blobs the jobs may read."""
    worker, api = services["worker"], services["api"]
    command = command_of(worker)
    assert command[:2] == ["carnet", "worker"]
    assert worker.get("image") == api.get("image") and worker.get("build") == api.get("build")
    assert environment_of(worker) == environment_of(api)
    assert depends_on(worker) == depends_on(api)
    assert worker.get("restart") == "unless-stopped"
    assert not worker.get("ports"), "the worker listens on nothing"
    health_file = command[command.index("--health-file") + 1]
    assert health_file in " ".join(worker["healthcheck"]["test"])
    assert worker.get("volumes") == api.get("volumes")
    from backend.cli import build_parser

    args = build_parser().parse_args(command[1:])
    assert args.command == "worker" and args.concurrency >= 1


def test_web_service(services: dict[str, Any]) -> None:
    web = services["web"]
    build = web["build"]
    context = ROOT / build.get("context", ".")
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file()
    if "target" in build:
        assert re.search(rf"^FROM .+ AS {build['target']}\s*$", dockerfile.read_text(), re.M)
    text = dockerfile.read_text()
    assert '"reflex", "run", "--env", "prod"' in text or " ".join(command_of(web)).startswith(
        "reflex run --env prod"
    )


def test_dockerfile_targets() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS base$", text, re.M)
    for target in ("api", "web"):
        assert re.search(rf"^FROM base AS {target}$", text, re.M), target
    assert "pip install ." in text
    assert re.search(r"^USER carnet$", text, re.M), "images should not run as root"


def test_dockerignore_keeps_secrets_and_junk_out() -> None:
    patterns = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".env", ".venv", "var", "frontend/.web", "frontend/.states"} <= patterns
    # The build needs these: make sure they are not ignored.
    assert not {"README.md", "pyproject.toml", "backend", "frontend"} & patterns


def test_api_keeps_blobs_on_a_named_volume(services: dict[str, Any]) -> None:
    """Local document blobs must outlive the container and be shared by both workers."""
    env = environment_of(services["api"])
    if env.get("BLOB_STORE", "local") != "local":
        return
    blob_dir = env.get("BLOB_DIR")
    assert blob_dir and blob_dir.startswith("/"), "set an absolute BLOB_DIR on the api"
    targets = {
        str(m.get("target")) if isinstance(m, dict) else m.split(":")[1]
        for m in services["api"].get("volumes") or []
    }
    assert blob_dir in targets, f"BLOB_DIR {blob_dir} is not a mounted volume"
    assert re.search(rf"mkdir -p {re.escape(blob_dir)}", DOCKERFILE.read_text()), (
        "create BLOB_DIR in the image, owned by the runtime user"
    )


def test_volumes_are_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for mount in service.get("volumes") or []:
            source = mount.get("source") if isinstance(mount, dict) else mount.split(":", 1)[0]
            kind = mount.get("type", "volume") if isinstance(mount, dict) else None
            if kind == "bind" or source.startswith((".", "/", "~", "$")):
                continue
            assert source in declared, f"{name} uses undeclared volume {source!r}"
            used.add(source)
    assert used == declared, f"declared but unused volumes: {sorted(declared - used)}"
    assert {"postgres", "redis"} <= {
        name for name, service in services.items() if service.get("volumes")
    }


def test_required_variables_are_enforced(compose: dict[str, Any]) -> None:
    for missing in ("CARNET_MASTER_KEY", "POSTGRES_PASSWORD"):
        env = {k: v for k, v in OPERATOR_ENV.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            interpolate_tree(compose, env)
        with pytest.raises(MissingVariable, match=missing):
            interpolate_tree(compose, {**env, missing: ""})


def test_interpolation_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("a$$b ${SET} $SET ${UNSET}", env) == "a$b x x "
    assert interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${SET:-d}", env) == "d  d x"
    with pytest.raises(MissingVariable):
        interpolate("${EMPTY:?needed}", env)
    assert interpolate("${EMPTY?needed}", env) == ""


@pytest.mark.parametrize("minimal", [False, True], ids=["all-set", "only-required"])
@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_settings_accept_the_backend_env(
    compose: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    minimal: bool,
) -> None:
    """The container would start: its environment passes `load_settings()` as is."""
    operator = dict(OPERATOR_ENV)
    if minimal:
        operator = {k: operator[k] for k in ("CARNET_MASTER_KEY", "POSTGRES_PASSWORD")}
    env = environment_of(interpolate_tree(compose, operator)["services"][name])
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for variable in setting_names():
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)

    settings = load_settings()

    assert settings.carnet_env is Environment.PRODUCTION
    assert settings.is_production
    assert len(settings.master_key()) == 32
    assert settings.database_url.startswith("postgres://carnet:")
    assert settings.database_url.endswith("@postgres:5432/carnet")
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.graphiql is False
    assert settings.introspection is False
    assert settings.otp_ttl_seconds == 900
    assert settings.carnet_previous_master_keys == []
    assert settings.blob_store == "local"
    assert Path(settings.blob_dir).is_absolute()
    if minimal:
        assert settings.smtp_host is None and settings.sms_webhook_url is None
        assert settings.allowed_origins == ["http://localhost:3000"]
    else:
        assert settings.smtp_host == "smtp.example.org"
        assert settings.sms_webhook_url == "https://sms.example.org/send"
        assert settings.allowed_origins == ["https://carnet.example.org"]


def test_postgres_credentials_match_database_url(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    pg = environment_of(services["postgres"])
    url = environment_of(services["api"])["DATABASE_URL"]
    expected = f"postgres://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/"
    assert url == expected + pg["POSTGRES_DB"]


def test_the_api_trusts_exactly_the_web_apps_address(compose: dict[str, Any]) -> None:
    """X-Forwarded-For is believed from the web service only (issue 9, item 7): not from the
    whole network, whose gateway carries the published port and other containers share it."""
    import ipaddress

    services = compose["services"]
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.ip_network(pool["subnet"])
    gateway = ipaddress.ip_address(pool["gateway"])
    dynamic = ipaddress.ip_network(pool["ip_range"])
    web_address = ipaddress.ip_address(services["web"]["networks"]["default"]["ipv4_address"])
    assert web_address in subnet and web_address != gateway
    # Docker hands out dynamic addresses from ip_range only: no other container gets this one.
    assert web_address not in dynamic and gateway not in dynamic and dynamic.subnet_of(subnet)
    for name, service in services.items():
        networks = service.get("networks") or {}
        if name != "web" and isinstance(networks, dict):
            for spec in networks.values():
                assert ipaddress.ip_address((spec or {}).get("ipv4_address", "0.0.0.0")) != (
                    web_address), f"{name} takes the web app's address"

    for name in BACKEND_SERVICES:
        trusted = environment_of(services[name])["FORWARDED_ALLOW_IPS"]
        entries = [e.strip() for e in trusted.split(",")]
        assert entries == [str(web_address)], f"{name} trusts {trusted!r}"
        settings = load_settings(database_url="sqlite://:memory:", carnet_env="production",
                                 carnet_master_key=generate_master_key(),
                                 forwarded_allow_ips=trusted)
        assert settings.trusted_proxies == str(web_address)
