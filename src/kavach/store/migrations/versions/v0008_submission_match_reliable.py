"""submission_match: the distance on the query's reliable bits, for a PDQ match found by them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission_match", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reliable_distance", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_match", schema=None) as batch_op:
        batch_op.drop_column("reliable_distance")
