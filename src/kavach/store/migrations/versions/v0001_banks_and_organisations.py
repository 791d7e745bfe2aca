"""banks and organisations

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:

    op.create_table(
        "organisation",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("name", name=op.f("uq_organisation_name")),
    )
    op.create_table(
        "bank",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("sharing", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organisation.id"],
            name=op.f("fk_bank_owner_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank")),
        sa.UniqueConstraint("name", name=op.f("uq_bank_name")),
    )
    op.create_table(
        "bank_import",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("retracted", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["bank.id"], name=op.f("fk_bank_import_bank_id_bank"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_import")),
    )
    with op.batch_alter_table("bank_import", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_import_bank_id"), ["bank_id"], unique=False)

    op.create_table(
        "bank_share",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["bank.id"], name=op.f("fk_bank_share_bank_id_bank"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_bank_share_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", "organisation_id", name=op.f("pk_bank_share")),
    )
    op.create_table(
        "bank_entry",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("changed_version", sa.BigInteger(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.String(length=200), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["bank.id"], name=op.f("fk_bank_entry_bank_id_bank"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["bank_import.id"],
            name=op.f("fk_bank_entry_import_id_bank_import"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entry")),
        sa.UniqueConstraint(
            "bank_id", "signal_type", "value", name=op.f("uq_bank_entry_bank_id_signal_type_value")
        ),
    )
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_entry_bank_id_changed_version", ["bank_id", "changed_version"], unique=False
        )
        batch_op.create_index("ix_bank_entry_bank_id_item_id", ["bank_id", "item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bank_entry_import_id"), ["import_id"], unique=False)
        batch_op.create_index(
            "ix_bank_entry_signal_type_value", ["signal_type", "value"], unique=False
        )

    op.create_table(
        "entry_label",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("assessor", sa.String(length=200), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entry.id"],
            name=op.f("fk_entry_label_entry_id_bank_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_label")),
        sa.UniqueConstraint(
            "entry_id",
            "scheme",
            "value",
            "assessor",
            name=op.f("uq_entry_label_entry_id_scheme_value_assessor"),
        ),
    )
    with op.batch_alter_table("entry_label", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_label_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "entry_vouch",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("vouched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entry.id"],
            name=op.f("fk_entry_vouch_entry_id_bank_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_entry_vouch_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_vouch")),
        sa.UniqueConstraint(
            "entry_id", "organisation_id", name=op.f("uq_entry_vouch_entry_id_organisation_id")
        ),
    )
    with op.batch_alter_table("entry_vouch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_vouch_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("entry_vouch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_vouch_entry_id"))

    op.drop_table("entry_vouch")
    with op.batch_alter_table("entry_label", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_label_entry_id"))

    op.drop_table("entry_label")
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_entry_signal_type_value")
        batch_op.drop_index(batch_op.f("ix_bank_entry_import_id"))
        batch_op.drop_index("ix_bank_entry_bank_id_item_id")
        batch_op.drop_index("ix_bank_entry_bank_id_changed_version")

    op.drop_table("bank_entry")
    op.drop_table("bank_share")
    with op.batch_alter_table("bank_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_import_bank_id"))

    op.drop_table("bank_import")
    op.drop_table("bank")
    op.drop_table("organisation")
