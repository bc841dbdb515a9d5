from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from server.models.audit import AuditAction, AuditObject, AuditOutcome


class Migration(migrations.Migration):
    dependencies = [('models', '0005_jobs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('user_id', fields.IntField(null=True, db_index=True)),
                ('username', fields.CharField(default='', max_length=64)),
                ('role', fields.CharField(default='', max_length=16)),
                ('action', fields.CharEnumField(description='VIEW: view\nPLAY: play\nDOWNLOAD: download\nEXPORT: export\nCREATE: create\nUPDATE: update\nDELETE: delete\nSIGN_IN: sign_in\nSIGN_OUT: sign_out\nMFA: mfa', enum_type=AuditAction, max_length=16)),
                ('object', fields.CharEnumField(description='CASE: case\nRECORDING: recording\nTRANSCRIPT: transcript\nMEDIA: media\nRATING: rating\nSUGGESTION: suggestion\nIPAF: ipaf\nEXPORT: export\nAGREEMENT_REPORT: agreement_report\nPROGRESS: progress\nACCOUNT: account\nSESSION: session\nQUEUE: queue\nAUDIT_TRAIL: audit_trail', enum_type=AuditObject, max_length=20)),
                ('object_id', fields.BigIntField(null=True)),
                ('case_id', fields.IntField(null=True, db_index=True)),
                ('recording_id', fields.IntField(null=True, db_index=True)),
                ('outcome', fields.CharEnumField(description='ALLOWED: allowed\nREFUSED: refused\nINVALID: invalid\nFAILED: failed', enum_type=AuditOutcome, max_length=10)),
                ('status', fields.SmallIntField(null=True)),
                ('route', fields.CharField(default='', max_length=64)),
                ('address', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=255)),
                ('previous', fields.CharField(unique=True, max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Recording',
            name='consent_confirmed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='consent_date',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Recording',
            name='consent_withdrawn_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='deleted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='deleted_by',
            field=fields.ForeignKeyField('models.User', source_field='deleted_by_id', null=True, db_constraint=True, to_field='id', related_name='deletions', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Recording',
            name='deletion_reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='media_deleted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='replaced_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Recording',
            name='transcript_deleted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterModelOptions(
            name='SupervisionLog',
            options={'table': 'supervisionlog', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Hours of DIT supervision a trainee received, counted towards accreditation once confirmed: an entry a'},
        ),
        ops.AddField(
            model_name='SupervisionLog',
            name='awaiting_confirmation',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='SupervisionLog',
            name='confirmed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='SupervisionLog',
            name='confirmed_by',
            field=fields.ForeignKeyField('models.User', source_field='confirmed_by_id', null=True, db_constraint=True, to_field='id', related_name='supervision_confirmed', on_delete=OnDelete.CASCADE),
        ),
    ]
