"""Initial schema: users, feeder locks, connection requests, decisions, audit log,
idempotency keys, reinforcements, dispatch plans. The audit log is append-only: triggers
refuse UPDATE and DELETE on it (SQLite and PostgreSQL).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def upgrade() -> None:
    op.create_table('feeder_locks',
    sa.Column('feeder', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('feeder', name=op.f('pk_feeder_locks'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('installer', 'engineer', 'operator', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_users_token_sha256'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('detail', JSON, nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('connection_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('feeder', sa.String(length=100), nullable=False),
    sa.Column('bus', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=40), nullable=False),
    sa.Column('ac_kw', sa.Float(), nullable=False),
    sa.Column('dc_kwp', sa.Float(), nullable=False),
    sa.Column('battery_kw', sa.Float(), nullable=False),
    sa.Column('battery_kwh', sa.Float(), nullable=False),
    sa.Column('power_factor', sa.Float(), nullable=False),
    sa.Column('volt_var', sa.Boolean(), nullable=False),
    sa.Column('applicant', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decision', sa.String(length=30), nullable=True),
    sa.Column('approved_kw', sa.Float(), nullable=True),
    sa.Column('connected_kw', sa.Float(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accept_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('submitted', 'queued', 'decided', 'accepted', 'connected', 'withdrawn', 'expired', 'rejected')", name=op.f('ck_connection_requests_status')),
    sa.CheckConstraint('ac_kw > 0', name=op.f('ck_connection_requests_ac_kw_positive')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_connection_requests_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_requests'))
    )
    op.create_index('ix_connection_requests_feeder_status', 'connection_requests',
                    ['feeder', 'status', 'submitted_at'])
    op.create_index(op.f('ix_connection_requests_owner_id'), 'connection_requests', ['owner_id'])

    op.create_table('dispatch_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feeder', sa.String(length=100), nullable=False),
    sa.Column('plan_date', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('plan', JSON, nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_dispatch_plans_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_plans')),
    sa.UniqueConstraint('feeder', 'plan_date', 'version', name='uq_dispatch_plans_feeder_date_version')
    )
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name='uq_idempotency_keys_user_key')
    )
    op.create_table('reinforcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feeder', sa.String(length=100), nullable=False),
    sa.Column('element', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('capacity_kw', sa.Float(), nullable=True),
    sa.Column('feeder_sha256', sa.String(length=64), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_reinforcements_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reinforcements'))
    )
    op.create_index(op.f('ix_reinforcements_feeder'), 'reinforcements', ['feeder'])

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('decision', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('inputs', JSON, nullable=False),
    sa.Column('result', JSON, nullable=False),
    sa.Column('feeder_sha256', sa.String(length=64), nullable=True),
    sa.Column('settings', JSON, nullable=False),
    sa.Column('gridint_version', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_decisions_decided_by_users')),
    sa.ForeignKeyConstraint(['request_id'], ['connection_requests.id'], name=op.f('fk_decisions_request_id_connection_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    op.create_index(op.f('ix_decisions_request_id'), 'decisions', ['request_id'])
    _audit_triggers()



def downgrade() -> None:
    _drop_audit_triggers()
    op.drop_index(op.f('ix_decisions_request_id'), table_name='decisions')

    op.drop_table('decisions')
    op.drop_index(op.f('ix_reinforcements_feeder'), table_name='reinforcements')

    op.drop_table('reinforcements')
    op.drop_table('idempotency_keys')
    op.drop_table('dispatch_plans')
    op.drop_index(op.f('ix_connection_requests_owner_id'), table_name='connection_requests')
    op.drop_index('ix_connection_requests_feeder_status', table_name='connection_requests')

    op.drop_table('connection_requests')
    op.drop_table('audit_log')
    op.drop_table('users')
    op.drop_table('feeder_locks')
