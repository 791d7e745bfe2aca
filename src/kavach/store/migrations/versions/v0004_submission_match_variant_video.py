"""submission_match: how a PDQ match was found (variant, query hash) and a video's two
percentages; bank.variants: the variant families a bank accepts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variants", sa.String(length=100), nullable=True))
    with op.batch_alter_table("submission_match", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("query_value", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("query_match_percent", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("compared_match_percent", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_match", schema=None) as batch_op:
        batch_op.drop_column("compared_match_percent")
        batch_op.drop_column("query_match_percent")
        batch_op.drop_column("query_value")
        batch_op.drop_column("variant")
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.drop_column("variants")
