"""Telemetry (issue 10): DER devices and their measurements, keyed (device_id, time).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "der_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("feeder", sa.String(length=100), nullable=False),
        sa.Column("bus", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rating_kw", sa.Float(), nullable=False),
        sa.Column("energy_kwh", sa.Float(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('pv', 'storage')", name=op.f("ck_der_devices_kind")),
        sa.CheckConstraint("rating_kw > 0", name=op.f("ck_der_devices_rating_kw_positive")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_der_devices_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_der_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_der_devices_name")),
    )
    op.create_index("ix_der_devices_feeder_bus", "der_devices", ["feeder", "bus"], unique=False)
    op.create_index(op.f("ix_der_devices_owner_id"), "der_devices", ["owner_id"], unique=False)
    op.create_table(
        "telemetry",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("p_kw", sa.Float(), nullable=False),
        sa.Column("soc_percent", sa.Float(), nullable=True),
        sa.Column("v_pu", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["der_devices.id"],
                                name=op.f("fk_telemetry_device_id_der_devices")),
        sa.PrimaryKeyConstraint("device_id", "time", name=op.f("pk_telemetry")),
    )


def downgrade() -> None:
    op.drop_table("telemetry")
    op.drop_index(op.f("ix_der_devices_owner_id"), table_name="der_devices")
    op.drop_index("ix_der_devices_feeder_bus", table_name="der_devices")
    op.drop_table("der_devices")
