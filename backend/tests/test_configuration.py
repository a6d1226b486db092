"""docs/configuration.md and .env.example cannot drift from the settings: every variable the back office's
settings classes, the assistant (actions, channels, Rasa's endpoints and credentials, scripts/stack.py),
the demo company systems and the deployment (docker-compose.yml) read is in both, and .env.example names
nothing that nothing reads.
Pure: reads the settings classes and the sources, starts nothing."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

from backoffice import settings as settings_module

ROOT = Path(settings_module.__file__).resolve().parents[2]
VARIABLE = r"[A-Z][A-Z0-9_]*[A-Z0-9]"
# A variable read from the process environment: os.environ / getenv, the environment mapping that
# actions/server.py and scripts/stack.py pass around (`env`, `e`), and connectors/limits.py's reader.
ENV_READ = re.compile(rf'(?:\bos\.environ(?:\.get\(|\[)|\bgetenv\(|\b(?:env|e)(?:\.get\(|\[)|_setting\()\s*"({VARIABLE})"')
YAML_VARIABLE = re.compile(rf"\$\{{({VARIABLE})\}}")
EXAMPLE_LINE = re.compile(rf"^#?\s*({VARIABLE})=", re.MULTILINE)
ASSISTANT_SOURCES = ["actions/*.py", "connectors/*.py", "text-catalogue/texts/*.py", "bot/*.py", "scripts/stack.py",
                     "companysystems/companysystems/*.py"]
RASA_FILES = ["bot/endpoints.yml", "bot/credentials.yml", "company-systems.yml", "deploy/rasa/endpoints.yml"]
# docker-compose.yml reads ${NAME}, ${NAME:?message} and ${NAME:-default} from the environment and .env.
COMPOSE_FILE = "docker-compose.yml"
COMPOSE_VARIABLE = re.compile(rf"\$\{{({VARIABLE})(?::?[?-]|\}})")
# Rasa's web server, Sanic, reads every SANIC_-prefixed variable into its own configuration.
SANIC_PREFIX = "SANIC_"
# Rasa's SQL tracker store reads its PostgreSQL pool from these (rasa.core.constants; this environment cannot import Rasa).
RASA_OWN = {"SQL_POOL_SIZE", "SQL_MAX_OVERFLOW"}


def variable_names(alias: object, field_name: str, settings_class: type[BaseSettings]) -> set[str]:
    if isinstance(alias, AliasChoices):
        return {choice for choice in alias.choices if isinstance(choice, str) and choice.isupper()}
    if isinstance(alias, AliasPath):
        return {str(alias.path[0])}
    if isinstance(alias, str):
        return {alias}
    prefix = settings_class.model_config.get("env_prefix", "")
    return {(prefix + field_name).upper()}


def back_office_settings() -> set[str]:
    """The variables of every settings class in backoffice/settings.py, as pydantic-settings reads them."""
    names: set[str] = set()
    for value in vars(settings_module).values():
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
            for field_name, field in value.model_fields.items():
                names |= variable_names(field.validation_alias or field.alias, field_name, value)
    return names


def uncommented(yaml_text: str) -> str:
    return "\n".join(line.split(" #")[0] for line in yaml_text.splitlines() if not line.lstrip().startswith("#"))


def assistant_settings() -> set[str]:
    """The variables the Rasa side and the demo company systems read: from their Python sources, and
    the ${VARIABLES} of Rasa's endpoints (the deployment's too) and credentials, of the system catalogue and of
    docker-compose.yml."""
    names: set[str] = set()
    for pattern in ASSISTANT_SOURCES:
        for source in ROOT.glob(pattern):
            names |= set(ENV_READ.findall(source.read_text()))
    for name in RASA_FILES:
        names |= set(YAML_VARIABLE.findall(uncommented((ROOT / name).read_text())))
    names |= set(COMPOSE_VARIABLE.findall(uncommented((ROOT / COMPOSE_FILE).read_text())))
    return names


def example_names() -> set[str]:
    """The variables .env.example sets or shows (a commented-out `# NAME=value` shows an optional one)."""
    return set(EXAMPLE_LINE.findall((ROOT / ".env.example").read_text()))


def documented(names: set[str]) -> set[str]:
    page = (ROOT / "docs" / "configuration.md").read_text()
    return {name for name in names if re.search(rf"(?<![A-Z0-9_]){name}(?![A-Z0-9_])", page)}


def test_the_settings_are_found():
    back_office, assistant = back_office_settings(), assistant_settings()
    assert {"BACKOFFICE_DATABASE_URL", "SESSION_TOKEN_SECRET", "HANDOFF_OFFICE_HOURS", "WORKER_MAX_ATTEMPTS"} <= back_office
    assert {"ACTION_SERVER_TOKEN", "MAX_MESSAGE_CHARS", "TRUSTED_PROXIES", "TRACKER_DB_DIALECT", "TELEGRAM_TOKEN",
            "RASA_MODEL", "COMPANY_DATABASE_URL", "COMPANY_SYSTEMS_URL", "LOCK_STORE_URL", "POSTGRES_PASSWORD"} <= assistant
    assert "HTTP_ORIGIN" not in assistant  # the socket.io request's WSGI environ, not the process's


def test_every_setting_is_in_env_example():
    assert (back_office_settings() | assistant_settings()) - example_names() == set()


def test_every_setting_is_in_the_configuration_page():
    settings = back_office_settings() | assistant_settings()
    assert settings - documented(settings) == set()


def test_env_example_names_only_real_settings():
    read = back_office_settings() | assistant_settings()
    assert {name for name in example_names() - read - RASA_OWN if not name.startswith(SANIC_PREFIX)} == set()


def test_a_missing_or_unknown_setting_is_caught():
    example = (ROOT / ".env.example").read_text()
    assert "HANDOFF_OFFICE_HOURS" in EXAMPLE_LINE.findall(example)
    assert "HANDOFF_OFFICE_HOURS" not in EXAMPLE_LINE.findall(example.replace("HANDOFF_OFFICE_HOURS=", "HANDOFF_HOURS="))
    assert documented({"HANDOFF_OFFICE_HOURS", "HANDOFF_OFFICE", "NO_SUCH_SETTING"}) == {"HANDOFF_OFFICE_HOURS"}
    assert ENV_READ.findall('x = os.environ.get("A_B") + getenv("C_D") + env["D_E"] + environ.get("HTTP_ORIGIN")') == ["A_B", "C_D", "D_E"]
