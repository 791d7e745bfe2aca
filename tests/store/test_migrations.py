from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from kavach.store import current_revision, head_revision, upgrade
from kavach.store.registry import metadata


def test_database_is_at_head(engine: Engine) -> None:
    assert head_revision() is not None
    assert current_revision(engine) == head_revision()


def test_upgrade_is_idempotent(engine: Engine) -> None:
    assert upgrade(engine) == head_revision()


def test_migrations_match_the_models(engine: Engine) -> None:
    # A model change without a migration (or the reverse) shows up here on both databases.
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_constraints_are_named_by_convention(engine: Engine) -> None:
    inspector = inspect(engine)
    uniques = {uc["name"] for uc in inspector.get_unique_constraints("bank_entry")}
    assert "uq_bank_entry_bank_id_signal_type_value" in uniques
    fks = {fk["name"] for fk in inspector.get_foreign_keys("bank_entry")}
    assert "fk_bank_entry_bank_id_bank" in fks


def test_migrations_ship_inside_the_package() -> None:
    from importlib import resources

    versions = resources.files("kavach.store") / "migrations" / "versions"
    assert any(p.name.endswith(".py") and p.name.startswith("v") for p in versions.iterdir())
