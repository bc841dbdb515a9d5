from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_governance')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Recording',
            name='data_key',
            field=fields.BinaryField(null=True),
        ),
        ops.AddField(
            model_name='Recording',
            name='key_id',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
