"""Telemetry at city scale (issue 10): hourly roll-up table; PostgreSQL monthly partitions.

- ``telemetry_hourly`` (device_id, hour) on every database.
- PostgreSQL only: ``telemetry`` becomes ``PARTITION BY RANGE (time)`` with the same
  columns, primary key (device_id, time) and foreign key; its partitions live in the
  schema ``telemetry_partitions`` (out of the application schema, so the schema checks
  see one table): ``pYYYY_MM`` per UTC month, each with a BRIN index on ``time``, for
  every month that holds rows plus the current and the next month, and the DEFAULT
  partition ``p_default`` for anything else. Existing rows are copied over. SQLite keeps
  its single table.

The DDL is spelled out here (frozen), not imported: :mod:`gridint.telemetry.retention`
creates later partitions with the same names and index (a test checks they agree).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "telemetry_partitions"
_COLUMNS = ("device_id integer NOT NULL, time timestamp with time zone NOT NULL, "
            "p_kw double precision NOT NULL, soc_percent double precision, v_pu double precision")


def _month(d: dt.date, k: int = 0) -> dt.date:
    n = d.year * 12 + d.month - 1 + k
    return dt.date(n // 12, n % 12 + 1, 1)


def _partition(month: dt.date) -> None:
    name = f"p{month.year:04d}_{month.month:02d}"
    nxt = _month(month, 1)
    op.execute(f"CREATE TABLE {SCHEMA}.{name} PARTITION OF telemetry FOR VALUES "
               f"FROM ('{month.isoformat()} 00:00:00+00') TO ('{nxt.isoformat()} 00:00:00+00')")
    op.execute(f"CREATE INDEX {name}_time_brin ON {SCHEMA}.{name} USING brin (time) "
               "WITH (autosummarize = on)")


def upgrade() -> None:
    op.create_table(
        "telemetry_hourly",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),  # no padding before hour
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("p_kw_mean", sa.Float(), nullable=False),
        sa.Column("p_kw_min", sa.Float(), nullable=False),
        sa.Column("p_kw_max", sa.Float(), nullable=False),
        sa.Column("e_kwh", sa.Float(), nullable=False),
        sa.Column("soc_percent_last", sa.Float(), nullable=True),
        sa.Column("v_pu_min", sa.Float(), nullable=True),
        sa.Column("v_pu_max", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["der_devices.id"],
                                name=op.f("fk_telemetry_hourly_device_id_der_devices")),
        sa.PrimaryKeyConstraint("device_id", "hour", name=op.f("pk_telemetry_hourly")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    conn = op.get_bind()
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute("ALTER TABLE telemetry RENAME TO telemetry_0002")
    # index names are per schema: free pk_telemetry for the new table
    op.execute("ALTER TABLE telemetry_0002 RENAME CONSTRAINT pk_telemetry TO pk_telemetry_0002")
    op.execute(f"CREATE TABLE telemetry ({_COLUMNS}, "
               "CONSTRAINT pk_telemetry PRIMARY KEY (device_id, time), "
               "CONSTRAINT fk_telemetry_device_id_der_devices FOREIGN KEY (device_id) "
               "REFERENCES der_devices (id)) PARTITION BY RANGE (time)")
    op.execute(f"CREATE TABLE {SCHEMA}.p_default PARTITION OF telemetry DEFAULT")
    op.execute(f"CREATE INDEX p_default_time_brin ON {SCHEMA}.p_default USING brin (time) "
               "WITH (autosummarize = on)")
    present = conn.exec_driver_sql(
        "SELECT DISTINCT CAST(date_trunc('month', time AT TIME ZONE 'UTC') AS date) "
        "FROM telemetry_0002").scalars().all()
    this = _month(dt.datetime.now(dt.timezone.utc).date())
    for month in sorted(set(present) | {this, _month(this, 1)}):
        _partition(month)
    op.execute("INSERT INTO telemetry (device_id, time, p_kw, soc_percent, v_pu) "
               "SELECT device_id, time, p_kw, soc_percent, v_pu FROM telemetry_0002")
    op.execute("DROP TABLE telemetry_0002")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TABLE telemetry_0003 ({_COLUMNS})")
        op.execute("INSERT INTO telemetry_0003 SELECT device_id, time, p_kw, soc_percent, v_pu "
                   "FROM telemetry")
        op.execute("DROP TABLE telemetry")  # with its partitions
        op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")  # detached leftovers too
        op.execute("ALTER TABLE telemetry_0003 RENAME TO telemetry")
        op.execute("ALTER TABLE telemetry ADD CONSTRAINT pk_telemetry PRIMARY KEY (device_id, time)")
        op.execute("ALTER TABLE telemetry ADD CONSTRAINT fk_telemetry_device_id_der_devices "
                   "FOREIGN KEY (device_id) REFERENCES der_devices (id)")
    op.drop_table("telemetry_hourly")
