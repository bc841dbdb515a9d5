from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_accounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Worker',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('heartbeat_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('job', fields.ForeignKeyField('models.TranscriptionJob', source_field='job_id', null=True, db_constraint=True, to_field='id', related_name='workers', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'worker', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A transcription worker that is running, or was: it beats every few seconds, so a readiness'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='TranscriptionJob',
            name='not_before',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
