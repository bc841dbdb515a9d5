from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from rating.phases import Phase


class Migration(migrations.Migration):
    dependencies = [('models', '0009_worklist_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SuggestedVerdict',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recording', fields.OneToOneField('models.Recording', source_field='recording_id', db_constraint=True, to_field='id', related_name='suggested_verdict', on_delete=OnDelete.CASCADE)),
                ('verdict', fields.CharField(max_length=12)),
                ('phase', fields.CharEnumField(description='INITIAL: initial\nMIDDLE: middle\nENDING: ending', enum_type=Phase, max_length=8)),
                ('model_version', fields.CharField(max_length=64)),
                ('ipaf_version', fields.IntField()),
                ('made_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'suggested_verdict', 'app': 'models', 'pk_attr': 'id', 'table_description': "The on-model suggestion's session verdict on a tape, as last made: by which model, judged against"},
            bases=['Model'],
        ),
    ]
