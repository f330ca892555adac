"""Service directory (HSDS-shaped), projections of intake's case and consent events, referrals.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_projection',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('registered', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('office', sa.String(length=160), nullable=True),
    sa.Column('caseworker', sa.String(length=64), nullable=True),
    sa.Column('age_band', sa.String(length=16), nullable=True),
    sa.Column('sex', sa.String(length=64), nullable=True),
    sa.Column('nationality', sa.String(length=8), nullable=True),
    sa.Column('mobility_status', sa.String(length=64), nullable=True),
    sa.Column('province', sa.String(length=80), nullable=True),
    sa.Column('canton', sa.String(length=80), nullable=True),
    sa.Column('risk_level', sa.String(length=64), nullable=True),
    sa.Column('needs', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('status', sa.String(length=64), server_default='open', nullable=False),
    sa.Column('reporting_consent', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('sexual_violence', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('case_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_table('consent_projection',
    sa.Column('consent_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('office', sa.String(length=160), nullable=True),
    sa.Column('recipient_organisation', sa.String(length=160), nullable=True),
    sa.Column('recipient_service_type', sa.String(length=64), nullable=True),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('granted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('granted_categories', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('withdrawn_categories', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('reporting', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('consent_id')
    )
    op.create_index(op.f('ix_consent_projection_case_id'), 'consent_projection', ['case_id'], unique=False)
    op.create_table('incident_projection',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('gbvims_type', sa.String(length=64), nullable=True),
    sa.Column('sexual_violence', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('incident_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pep_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ec_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('incident_id')
    )
    op.create_index(op.f('ix_incident_projection_case_id'), 'incident_projection', ['case_id'], unique=False)
    op.create_table('organisations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('group_path', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('name_es', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('alternate_name', sa.String(length=200), nullable=True),
    sa.Column('description_es', sa.Text(), server_default='', nullable=False),
    sa.Column('description_en', sa.Text(), server_default='', nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('website', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=64), server_default='active', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_path')
    )
    op.create_table('purged_referrals',
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('referral_id')
    )
    op.create_index(op.f('ix_purged_referrals_case_id'), 'purged_referrals', ['case_id'], unique=False)
    op.create_table('unmet_needs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('province', sa.String(length=80), server_default='', nullable=False),
    sa.Column('canton', sa.String(length=80), server_default='', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'service_type', 'canton', name='uq_unmet_needs_case_type_canton')
    )
    op.create_index(op.f('ix_unmet_needs_case_id'), 'unmet_needs', ['case_id'], unique=False)
    op.create_table('locations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('province', sa.String(length=80), nullable=False),
    sa.Column('canton', sa.String(length=80), nullable=False),
    sa.Column('canton_key', sa.String(length=80), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('canton_code', sa.String(length=4), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('confidential', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_locations_canton_key'), 'locations', ['canton_key'], unique=False)
    op.create_index(op.f('ix_locations_canton_code'), 'locations', ['canton_code'], unique=False)
    op.create_index(op.f('ix_locations_organisation_id'), 'locations', ['organisation_id'], unique=False)
    op.create_table('services',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.String(length=36), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('name_es', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('description_es', sa.Text(), server_default='', nullable=False),
    sa.Column('description_en', sa.Text(), server_default='', nullable=False),
    sa.Column('application_process_es', sa.Text(), nullable=True),
    sa.Column('application_process_en', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=64), server_default='available', nullable=False),
    sa.Column('accepts_referrals', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('languages', sa.ARRAY(sa.String(length=8)), server_default='{}', nullable=False),
    sa.Column('cost', sa.String(length=64), server_default='free', nullable=False),
    sa.Column('fees_description_es', sa.Text(), nullable=True),
    sa.Column('fees_description_en', sa.Text(), nullable=True),
    sa.Column('min_age', sa.SmallInteger(), nullable=True),
    sa.Column('max_age', sa.SmallInteger(), nullable=True),
    sa.Column('sexes', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('nationalities', sa.ARRAY(sa.String(length=3)), server_default='{}', nullable=False),
    sa.Column('mobility_statuses', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('eligibility_description_es', sa.Text(), nullable=True),
    sa.Column('eligibility_description_en', sa.Text(), nullable=True),
    sa.Column('open_24_7', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_services_organisation_id'), 'services', ['organisation_id'], unique=False)
    op.create_index(op.f('ix_services_service_type'), 'services', ['service_type'], unique=False)
    op.create_table('contacts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.String(length=36), nullable=True),
    sa.Column('service_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_contacts_organisation_id'), 'contacts', ['organisation_id'], unique=False)
    op.create_index(op.f('ix_contacts_service_id'), 'contacts', ['service_id'], unique=False)
    op.create_table('referrals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('referring_office', sa.String(length=160), nullable=False),
    sa.Column('referring_caseworker', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('receiving_organisation', sa.String(length=160), nullable=False),
    sa.Column('organisation_id', sa.String(length=36), nullable=False),
    sa.Column('service_id', sa.String(length=36), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('categories', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('services_requested', sa.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('response_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('override_kinds', sa.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('override_legal_basis', sa.String(length=64), nullable=True),
    sa.Column('override_justification', sa.Text(), nullable=True),
    sa.Column('override_by', sa.String(length=64), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.String(length=64), nullable=True),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.String(length=64), nullable=True),
    sa.Column('decline_note', sa.Text(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=64), nullable=True),
    sa.Column('revoke_note', sa.Text(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counter_referral', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=64), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=64), nullable=True),
    sa.Column('answered_via_client', sa.String(length=64), nullable=True),
    sa.Column('deadline_approaching_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_referrals_case_id'), 'referrals', ['case_id'], unique=False)
    op.create_index('ix_referrals_pending_clock', 'referrals', ['response_due_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index(op.f('ix_referrals_receiving_organisation'), 'referrals', ['receiving_organisation'], unique=False)
    op.create_index(op.f('ix_referrals_referring_office'), 'referrals', ['referring_office'], unique=False)
    op.create_index(op.f('ix_referrals_status'), 'referrals', ['status'], unique=False)
    op.create_index('uq_referrals_open_case_service', 'referrals', ['case_id', 'service_id'], unique=True, postgresql_where=sa.text("status in ('pending', 'accepted')"))
    op.create_table('schedules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('service_id', sa.String(length=36), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=False),
    sa.Column('closes_at', sa.Time(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_schedules_service_id'), 'schedules', ['service_id'], unique=False)
    op.create_table('service_at_location',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('service_id', sa.String(length=36), nullable=False),
    sa.Column('location_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('service_id', 'location_id')
    )
    op.create_index(op.f('ix_service_at_location_service_id'), 'service_at_location', ['service_id'], unique=False)
    op.create_table('referral_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=True),
    sa.Column('actor_subject', sa.String(length=64), nullable=True),
    sa.Column('actor_organisation', sa.String(length=160), nullable=True),
    sa.Column('actor_client', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_referral_history_referral_id'), 'referral_history', ['referral_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_referral_history_referral_id'), table_name='referral_history')
    op.drop_table('referral_history')
    op.drop_index(op.f('ix_service_at_location_service_id'), table_name='service_at_location')
    op.drop_table('service_at_location')
    op.drop_index(op.f('ix_schedules_service_id'), table_name='schedules')
    op.drop_table('schedules')
    op.drop_index('uq_referrals_open_case_service', table_name='referrals', postgresql_where=sa.text("status in ('pending', 'accepted')"))
    op.drop_index(op.f('ix_referrals_status'), table_name='referrals')
    op.drop_index(op.f('ix_referrals_referring_office'), table_name='referrals')
    op.drop_index(op.f('ix_referrals_receiving_organisation'), table_name='referrals')
    op.drop_index('ix_referrals_pending_clock', table_name='referrals', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_referrals_case_id'), table_name='referrals')
    op.drop_table('referrals')
    op.drop_index(op.f('ix_contacts_service_id'), table_name='contacts')
    op.drop_index(op.f('ix_contacts_organisation_id'), table_name='contacts')
    op.drop_table('contacts')
    op.drop_index(op.f('ix_services_service_type'), table_name='services')
    op.drop_index(op.f('ix_services_organisation_id'), table_name='services')
    op.drop_table('services')
    op.drop_index(op.f('ix_locations_organisation_id'), table_name='locations')
    op.drop_index(op.f('ix_locations_canton_code'), table_name='locations')
    op.drop_index(op.f('ix_locations_canton_key'), table_name='locations')
    op.drop_table('locations')
    op.drop_index(op.f('ix_unmet_needs_case_id'), table_name='unmet_needs')
    op.drop_table('unmet_needs')
    op.drop_index(op.f('ix_purged_referrals_case_id'), table_name='purged_referrals')
    op.drop_table('purged_referrals')
    op.drop_table('organisations')
    op.drop_index(op.f('ix_incident_projection_case_id'), table_name='incident_projection')
    op.drop_table('incident_projection')
    op.drop_index(op.f('ix_consent_projection_case_id'), table_name='consent_projection')
    op.drop_table('consent_projection')
    op.drop_table('case_projection')
