"""alliance exchange: node key, peers, feeds, vouches, referrals (issue 9)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_peer",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("trust", sa.String(length=32), nullable=False),
        sa.Column("accept_banks", sa.JSON(), nullable=False),
        sa.Column("accept_labels", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_exchange_peer_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_peer")),
        sa.UniqueConstraint("name", name=op.f("uq_exchange_peer_name")),
        sa.UniqueConstraint("node_id", name=op.f("uq_exchange_peer_node_id")),
    )
    with op.batch_alter_table("exchange_peer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_peer_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "exchange_alarm",
        sa.Column("peer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["exchange_peer.id"],
            name=op.f("fk_exchange_alarm_peer_id_exchange_peer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_alarm")),
    )
    with op.batch_alter_table("exchange_alarm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_alarm_peer_id"), ["peer_id"], unique=False)

    op.create_table(
        "exchange_feed",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("published_version", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("head_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("head_signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["bank.id"], name=op.f("fk_exchange_feed_bank_id_bank"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("bank_id", name=op.f("pk_exchange_feed")),
    )
    op.create_table(
        "exchange_feed_leaf",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["bank.id"],
            name=op.f("fk_exchange_feed_leaf_bank_id_bank"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", "seq", name=op.f("pk_exchange_feed_leaf")),
    )
    op.create_table(
        "exchange_feed_node",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["bank.id"],
            name=op.f("fk_exchange_feed_node_bank_id_bank"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", "level", "idx", name=op.f("pk_exchange_feed_node")),
    )
    op.create_table(
        "exchange_ncmec_checkpoint",
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("through", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["bank.id"],
            name=op.f("fk_exchange_ncmec_checkpoint_bank_id_bank"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bank_id", name=op.f("pk_exchange_ncmec_checkpoint")),
    )
    op.create_table(
        "exchange_peer_feed",
        sa.Column("peer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("remote_bank", sa.String(length=100), nullable=False),
        sa.Column("bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.JSON(), nullable=False),
        sa.Column("head_size", sa.BigInteger(), nullable=False),
        sa.Column("head_root", sa.LargeBinary(), nullable=True),
        sa.Column("head_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("head_signature", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["bank.id"],
            name=op.f("fk_exchange_peer_feed_bank_id_bank"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["exchange_peer.id"],
            name=op.f("fk_exchange_peer_feed_peer_id_exchange_peer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_peer_feed")),
        sa.UniqueConstraint(
            "peer_id", "remote_bank", name=op.f("uq_exchange_peer_feed_peer_id_remote_bank")
        ),
    )
    with op.batch_alter_table("exchange_peer_feed", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_peer_feed_bank_id"), ["bank_id"], unique=False
        )

    op.create_table(
        "exchange_referral",
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("peer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["exchange_peer.id"],
            name=op.f("fk_exchange_referral_peer_id_exchange_peer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_referral")),
        sa.UniqueConstraint("uid", "direction", name=op.f("uq_exchange_referral_uid_direction")),
    )
    with op.batch_alter_table("exchange_referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_referral_peer_id"), ["peer_id"], unique=False)

    op.create_table(
        "exchange_feed_published",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("labels_digest", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entry.id"],
            name=op.f("fk_exchange_feed_published_entry_id_bank_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_exchange_feed_published")),
    )
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vouch_members", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("vouch_countries", sa.Integer(), nullable=True))

    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acts", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_entry", schema=None) as batch_op:
        batch_op.drop_column("acts")

    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.drop_column("vouch_countries")
        batch_op.drop_column("vouch_members")

    op.drop_table("exchange_feed_published")
    with op.batch_alter_table("exchange_referral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_referral_peer_id"))

    op.drop_table("exchange_referral")
    with op.batch_alter_table("exchange_peer_feed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_peer_feed_bank_id"))

    op.drop_table("exchange_peer_feed")
    op.drop_table("exchange_ncmec_checkpoint")
    op.drop_table("exchange_feed_node")
    op.drop_table("exchange_feed_leaf")
    op.drop_table("exchange_feed")
    with op.batch_alter_table("exchange_alarm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_alarm_peer_id"))

    op.drop_table("exchange_alarm")
    with op.batch_alter_table("exchange_peer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_peer_organisation_id"))

    op.drop_table("exchange_peer")
