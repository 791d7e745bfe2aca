"""public reports, hosting attribution, notices, blocklists (issue 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "takedown_contact",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_contact")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_takedown_contact_scope_key")),
    )
    op.create_table(
        "takedown_item",
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("url_sha256", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("dedicated_domain", sa.Boolean(), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("first_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notices_sent", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reappearances", sa.Integer(), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("asn", sa.Integer(), nullable=True),
        sa.Column("network", sa.String(length=200), nullable=True),
        sa.Column("prefix", sa.String(length=50), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("abuse_contact", sa.String(length=320), nullable=True),
        sa.Column("abuse_source", sa.String(length=20), nullable=True),
        sa.Column("attributed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_case.id"],
            name=op.f("fk_takedown_item_case_id_review_case"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_takedown_item_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_item")),
        sa.UniqueConstraint("reference", name=op.f("uq_takedown_item_reference")),
        sa.UniqueConstraint("url_sha256", name=op.f("uq_takedown_item_url_sha256")),
    )
    with op.batch_alter_table("takedown_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_item_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_takedown_item_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_takedown_item_host"), ["host"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_takedown_item_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            "ix_takedown_item_status_next_check", ["status", "next_check_at"], unique=False
        )

    op.create_table(
        "takedown_event",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["takedown_item.id"],
            name=op.f("fk_takedown_event_item_id_takedown_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_event")),
    )
    with op.batch_alter_table("takedown_event", schema=None) as batch_op:
        batch_op.create_index("ix_takedown_event_item_id_at", ["item_id", "at"], unique=False)

    op.create_table(
        "takedown_notice",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=2000), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["takedown_item.id"],
            name=op.f("fk_takedown_notice_item_id_takedown_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_notice")),
        sa.UniqueConstraint(
            "item_id",
            "purpose",
            "sequence",
            name=op.f("uq_takedown_notice_item_id_purpose_sequence"),
        ),
    )
    with op.batch_alter_table("takedown_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_notice_item_id"), ["item_id"], unique=False)

    op.create_table(
        "takedown_report",
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["takedown_item.id"],
            name=op.f("fk_takedown_report_item_id_takedown_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_report")),
    )
    with op.batch_alter_table("takedown_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_report_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("takedown_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_report_item_id"))

    op.drop_table("takedown_report")
    with op.batch_alter_table("takedown_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_notice_item_id"))

    op.drop_table("takedown_notice")
    with op.batch_alter_table("takedown_event", schema=None) as batch_op:
        batch_op.drop_index("ix_takedown_event_item_id_at")

    op.drop_table("takedown_event")
    with op.batch_alter_table("takedown_item", schema=None) as batch_op:
        batch_op.drop_index("ix_takedown_item_status_next_check")
        batch_op.drop_index(batch_op.f("ix_takedown_item_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_takedown_item_host"))
        batch_op.drop_index(batch_op.f("ix_takedown_item_country"))
        batch_op.drop_index(batch_op.f("ix_takedown_item_case_id"))

    op.drop_table("takedown_item")
    op.drop_table("takedown_contact")
