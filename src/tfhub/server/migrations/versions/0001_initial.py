"""The first schema: publishers, models, tags, versions, tokens, server state.

Revision ID: 0001
Revises:
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "publishers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_publishers"),
        sa.UniqueConstraint("name", name="uq_publishers_name"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name="fk_models_publisher_id_publishers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("publisher_id", "name", name="uq_models_publisher_id"),
    )
    op.create_index("ix_models_publisher_id", "models", ["publisher_id"])
    op.create_table(
        "model_tags",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "tag", name="pk_model_tags"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_model_tags_model_id_models", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_model_tags_tag", "model_tags", ["tag"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("unpacked_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("storage_prefix", sa.String(255), nullable=False),
        sa.Column("model_key", sa.String(512), nullable=False),
        sa.Column("gzip_key", sa.String(512), nullable=False),
        sa.Column("gzip_bytes", sa.BigInteger(), nullable=False),
        sa.Column("gzip_sha256", sa.String(64), nullable=False),
        sa.Column("zstd_key", sa.String(512), nullable=True),
        sa.Column("zstd_bytes", sa.BigInteger(), nullable=True),
        sa.Column("zstd_sha256", sa.String(64), nullable=True),
        sa.Column("readme", sa.Text(), nullable=False),
        sa.Column("inspect_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_versions_model_id_models", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("model_id", "number", name="uq_versions_model_id"),
        sa.UniqueConstraint("storage_prefix", name="uq_versions_storage_prefix"),
    )
    op.create_index("ix_versions_model_id", "versions", ["model_id"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_used_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["publisher_id"],
            ["publishers.id"],
            name="fk_tokens_publisher_id_publishers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
    )
    op.create_index("ix_tokens_publisher_id", "tokens", ["publisher_id"])
    op.create_table(
        "server_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_server_state"),
    )


def downgrade() -> None:
    for table in ("server_state", "tokens", "versions", "model_tags", "models", "publishers"):
        op.drop_table(table)
