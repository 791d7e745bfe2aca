from __future__ import annotations

from pathlib import Path

import pytest

from kavach.config import get_settings, normalise_database_url
from kavach.errors import ConfigurationError


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = get_settings({"KAVACH_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path.as_posix()}/kavach.db"
    assert settings.is_sqlite
    assert settings.environment == "development"


def test_without_data_dir_uses_the_platform_folder() -> None:
    settings = get_settings({})
    assert "kavach" in str(settings.data_dir).lower()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert get_settings({"KAVACH_DATABASE_URL": given}).database_url == expected


def test_unsupported_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="mysql"):
        get_settings({"KAVACH_DATABASE_URL": "mysql://x/y"})


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="environment"):
        get_settings({"KAVACH_ENV": "staging"})


def test_sql_echo_is_refused_in_production() -> None:
    assert get_settings({"KAVACH_SQL_ECHO": "1"}).sql_echo
    with pytest.raises(ConfigurationError, match="ECHO"):
        get_settings({"KAVACH_ENV": "production", "KAVACH_SQL_ECHO": "1"})


def test_settings_are_read_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_DATABASE_URL", "sqlite:///late.db")
    assert get_settings().database_url == "sqlite:///late.db"
