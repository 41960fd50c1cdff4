"""The deployment files: docker-compose.yml, the nginx config it mounts, the Dockerfile and
.dockerignore.

No Docker engine is needed. The files are read as data and their commands are parsed by the real
``takeamoment`` CLI; ``docker compose config`` runs too where the compose plugin answers (it does
not talk to the engine), and skips elsewhere.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from takeamoment.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NGINX_CONFIG = ROOT / "deploy" / "nginx" / "takeamoment.conf"
APPS = ("app-1", "app-2")  # the replicas nginx spreads clients over

SECRETS = ("POSTGRES_PASSWORD", "TAKEAMOMENT_SECRET_KEY")
APP_SETTINGS = (
    "TAKEAMOMENT_DATABASE_URL",
    "TAKEAMOMENT_REDIS_URL",
    "TAKEAMOMENT_PUBLIC_URL",
    "TAKEAMOMENT_SECRET_KEY",
    "TAKEAMOMENT_ENVIRONMENT",
)

# Compose interpolation: ``$$`` is a literal dollar; otherwise ``$NAME``, ``${NAME}`` or
# ``${NAME<op>text}`` with op one of ``:-  -  :?  ?  :+  +``. Nesting is not used here, so it is
# reported like any other malformed reference.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(
    rf"\$(?:\{{(?P<braced>{_NAME})(?:(?P<op>:?[-?+])(?P<text>[^{{}}$]*))?\}}|(?P<bare>{_NAME}))"
)


def interpolation_errors(value: str) -> list[str]:
    """The malformed ``$`` references in one compose string, empty when all are well formed."""
    unescaped = value.replace("$$", "")
    errors = []
    position = unescaped.find("$")
    while position != -1:
        match = _REFERENCE.match(unescaped, position)
        if match is None:
            errors.append(unescaped[position : position + 40])
            position = unescaped.find("$", position + 1)
        else:
            position = unescaped.find("$", match.end())
    return errors


def references(value: str) -> Iterator[re.Match[str]]:
    """The well-formed ``$`` references in one compose string."""
    return _REFERENCE.finditer(value.replace("$$", ""))


def strings_in(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string value in a parsed YAML document, with a dotted path to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings_in(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def resolve_cli(argv: list[str] | str) -> str:
    """Parse ``argv`` with the real ``takeamoment`` CLI, without running it; the command path."""
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    assert words[:1] == ["takeamoment"], f"{words} does not run the takeamoment CLI"
    command: click.Command = cli
    names = ["takeamoment"]
    rest = words[1:]
    while isinstance(command, click.Group):
        assert rest, f"{words} stops at the group {' '.join(names)}"
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"{' '.join(names)} has no command {rest[0]!r}"
        command, names, rest = sub, [*names, rest.pop(0)], rest
    command.make_context(" ".join(names), rest)  # raises on an unknown option or a bad value
    return " ".join(names)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def exec_form(arguments: str) -> list[str]:
    """A CMD's words, from its JSON exec form or its shell form."""
    if arguments.startswith("["):
        words = json.loads(arguments)
        assert isinstance(words, list)
        return [str(word) for word in words]
    return shlex.split(arguments)


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_file_is_a_mapping_of_services_without_the_obsolete_version_key(
    compose: dict[str, Any],
) -> None:
    assert isinstance(compose.get("services"), dict)
    assert compose["services"]
    assert "version" not in compose


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_db_redis_and_app_report_their_health(services: dict[str, dict[str, Any]]) -> None:
    for name in ("db", "redis", *APPS, "proxy"):
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable", False), name
        assert healthcheck["test"] not in (["NONE"], "NONE"), name


@pytest.mark.parametrize("app", APPS)
def test_app_waits_for_healthy_db_and_redis_and_a_finished_migration(
    services: dict[str, dict[str, Any]], app: str
) -> None:
    depends_on = services[app]["depends_on"]
    assert depends_on["db"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_migration_waits_for_a_healthy_db(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.parametrize("app", APPS)
def test_app_readiness_probe_asks_readyz_so_a_lost_database_shows(
    services: dict[str, dict[str, Any]], app: str
) -> None:
    probe = " ".join(services[app]["healthcheck"]["test"])
    assert "/readyz" in probe


@pytest.mark.parametrize("app", APPS)
def test_app_environment_sets_every_setting_for_production_against_the_compose_services(
    services: dict[str, dict[str, Any]], app: str
) -> None:
    environment = services[app]["environment"]
    assert isinstance(environment, dict)
    assert set(APP_SETTINGS) <= set(environment)
    assert environment["TAKEAMOMENT_ENVIRONMENT"] == "production"
    assert environment["TAKEAMOMENT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in environment["TAKEAMOMENT_DATABASE_URL"]
    assert environment["TAKEAMOMENT_REDIS_URL"].startswith("redis://redis:6379/")


def test_migration_gets_the_app_environment_since_production_settings_need_the_secret(
    services: dict[str, dict[str, Any]],
) -> None:
    for app in APPS:
        assert services["migrate"]["environment"] == services[app]["environment"]


def test_secrets_must_be_given_and_have_no_default(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    uses: dict[str, list[str]] = {secret: [] for secret in SECRETS}
    for path, value in strings_in(compose):
        for match in references(value):
            name = match["braced"] or match["bare"]
            if name in uses:
                assert match["op"] == ":?" and match["text"].strip(), f"{path}: {match[0]}"
                uses[name].append(path)
    assert all(uses.values()), uses
    secret_values = {
        "POSTGRES_PASSWORD": services["db"]["environment"]["POSTGRES_PASSWORD"],
        "TAKEAMOMENT_SECRET_KEY": services["app-1"]["environment"]["TAKEAMOMENT_SECRET_KEY"],
    }
    for name, value in secret_values.items():
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", value), f"{name} = {value!r}"


def test_every_interpolation_in_the_compose_file_is_well_formed(compose: dict[str, Any]) -> None:
    errors = {
        path: found for path, value in strings_in(compose) if (found := interpolation_errors(value))
    }
    assert errors == {}


@pytest.mark.parametrize(
    "value", ["${}", "${NAME", "${1NAME}", "${NAME:x}", "${NAME x}", "$ {NAME}", "${A:-${B}}"]
)
def test_the_interpolation_check_reports_a_malformed_reference(value: str) -> None:
    assert interpolation_errors(value)


@pytest.mark.parametrize(
    "value", ["plain", "$$literal", "$NAME", "${NAME}", "${N:-a/b:c}", "${N?msg}", "${N:+x}"]
)
def test_the_interpolation_check_accepts_compose_syntax(value: str) -> None:
    assert interpolation_errors(value) == []


def test_app_and_migration_run_real_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    for app in APPS:
        assert resolve_cli(services[app]["command"]) == "takeamoment serve"
    assert resolve_cli(services["migrate"]["command"]) == "takeamoment db upgrade"


def test_the_cli_check_rejects_a_command_the_cli_does_not_have() -> None:
    with pytest.raises(AssertionError):
        resolve_cli(["takeamoment", "db", "migrate"])
    with pytest.raises(click.UsageError):
        resolve_cli(["takeamoment", "serve", "--threads", "2"])


# --- Two replicas behind nginx ----------------------------------------------------------------


def nginx_directives() -> str:
    """The shipped nginx config without its comments."""
    return re.sub(r"#.*", "", NGINX_CONFIG.read_text())


def fixed_address(service: dict[str, Any]) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(service["networks"]["default"]["ipv4_address"])


def test_the_replicas_are_one_service_twice_and_only_the_proxy_is_published(
    services: dict[str, dict[str, Any]],
) -> None:
    first, second = (services[app] for app in APPS)
    differing = {key for key in first.keys() | second.keys() if first.get(key) != second.get(key)}
    assert differing == {"networks"}  # the same image, command, settings, probe and order
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy", "mailpit"}


def test_the_proxy_runs_the_shipped_nginx_config_once_both_replicas_are_ready(
    services: dict[str, dict[str, Any]],
) -> None:
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    mounts = {source: target for source, target, *_ in (v.split(":") for v in proxy["volumes"])}
    assert mounts == {"./deploy/nginx/takeamoment.conf": "/etc/nginx/conf.d/default.conf"}
    assert (ROOT / "deploy" / "nginx" / "takeamoment.conf").is_file()
    assert {app: proxy["depends_on"][app]["condition"] for app in APPS} == dict.fromkeys(
        APPS, "service_healthy"
    )
    assert [port.split(":")[-1] for port in proxy["ports"]] == ["80"]


def test_the_app_believes_forwarded_headers_from_the_proxy_address_alone(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    (ipam,) = compose["networks"]["default"]["ipam"]["config"]
    subnet, dynamic = ipaddress.IPv4Network(ipam["subnet"]), ipaddress.IPv4Network(ipam["ip_range"])
    fixed = {name: fixed_address(services[name]) for name in ("proxy", *APPS)}
    # In the network, and never handed to another container that could then forge the header.
    assert all(address in subnet and address not in dynamic for address in fixed.values())
    assert len(set(fixed.values())) == len(fixed)
    for app in APPS:
        allowed = json.loads(services[app]["environment"]["TAKEAMOMENT_FORWARDED_ALLOW_IPS"])
        assert allowed == [str(fixed["proxy"])]


def test_nginx_proxies_to_each_replica_on_the_port_it_serves(
    services: dict[str, dict[str, Any]],
) -> None:
    config = nginx_directives()
    (upstream,) = re.findall(r"upstream takeamoment \{(.*?)\}", config, re.S)
    servers = re.findall(r"^\s*server (\S+);", upstream, re.M)
    expected = []
    for app in APPS:
        command = services[app]["command"]
        expected.append(f"{app}:{command[command.index('--port') + 1]}")
    assert servers == expected
    assert re.search(r"^\s*listen 80;", config, re.M)


def test_nginx_overwrites_the_forwarded_headers_and_upgrades_websockets() -> None:
    config = nginx_directives()
    locations = dict(re.findall(r"location (\S+) \{(.*?)\n    \}", config, re.S))
    assert set(locations) == {"/", "/ws/"}
    for body in locations.values():
        # $proxy_add_x_forwarded_for would keep what the client sent (tests/e2e/test_proxy.py).
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in body
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in body
        assert "proxy_http_version 1.1;" in body
    assert "$proxy_add_x_forwarded_for" not in config
    assert "proxy_set_header Upgrade $http_upgrade;" in locations["/ws/"]
    assert 'proxy_set_header Connection "upgrade";' in locations["/ws/"]
    assert re.search(r"proxy_read_timeout (\d+)h;", locations["/ws/"])


# --- Dockerfile and .dockerignore --------------------------------------------------------------


def test_dockerfile_has_a_healthcheck_that_asks_healthz_without_curl() -> None:
    healthchecks = [args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert healthchecks, "no HEALTHCHECK"
    assert healthchecks[-1].upper() != "NONE"
    assert "/healthz" in healthchecks[-1]
    assert "urllib" in healthchecks[-1]


def test_dockerfile_runs_as_a_user_that_is_not_root() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_default_command_serves_on_all_interfaces() -> None:
    commands = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "no CMD"
    words = exec_form(commands[-1])
    assert resolve_cli(words) == "takeamoment serve"
    # A container must listen on all its interfaces for the published port to reach it.
    assert words[words.index("--host") + 1] == "0.0.0.0"  # noqa: S104


def test_dockerfile_installs_the_built_wheel_not_an_editable_copy() -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    installs = [words for words in map(shlex.split, runs) if "install" in words]
    assert installs, "no pip install"
    assert not any("-e" in words or "--editable" in words for words in installs)
    assert any(any(word.endswith(".whl") for word in words) for words in installs)
    # The wheel is built from the package and its migrations, which ship inside it.
    copied = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "COPY")
    assert "migrations" in copied and "setup.py" in copied


def test_dockerignore_keeps_the_virtualenv_git_and_local_secrets_out_of_the_image() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".env", ".takeamoment-secret"} <= patterns


# --- docker compose config (the compose plugin validates without an engine) --------------------


@pytest.fixture(scope="module")
def docker_compose() -> list[str]:
    if shutil.which("docker") is None:
        pytest.skip("no docker binary")
    try:
        answer = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"docker compose does not answer: {error}")
    if answer.returncode != 0:
        first_line = (answer.stderr.strip().splitlines() or ["no answer"])[0]
        pytest.skip(f"no docker compose plugin: {first_line}")
    return ["docker", "compose"]


def run_compose_config(
    docker_compose: list[str], tmp_path: Path, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # An empty --env-file so a developer's .env beside the compose file cannot supply the secrets.
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in SECRETS and not key.startswith("TAKEAMOMENT_")
    }
    return subprocess.run(
        [
            *docker_compose,
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(empty_env_file),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **secrets},
    )


def test_docker_compose_accepts_the_file_when_the_secrets_are_set(
    docker_compose: list[str], tmp_path: Path
) -> None:
    secrets = {"POSTGRES_PASSWORD": "test-password", "TAKEAMOMENT_SECRET_KEY": "test-secret"}
    result = run_compose_config(docker_compose, tmp_path, secrets)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", SECRETS)
def test_docker_compose_refuses_the_file_when_a_secret_is_missing(
    docker_compose: list[str], tmp_path: Path, missing: str
) -> None:
    secrets = {"POSTGRES_PASSWORD": "test-password", "TAKEAMOMENT_SECRET_KEY": "test-secret"}
    del secrets[missing]
    result = run_compose_config(docker_compose, tmp_path, secrets)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr
