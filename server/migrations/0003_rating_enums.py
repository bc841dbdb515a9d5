from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from rating.phases import Phase
from server.models import RatingAction


class AlterFieldState(ops.AlterField):
    """A field that the ORM now reads as an enum while its column stays VARCHAR of the same length: only
    the migration state changes. Altering the column would make SQLite rebuild the table, and dropping the
    old `rating` table would cascade-delete every rating's history."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0002_speakers')]

    initial = False

    operations = [
        AlterFieldState(
            model_name='Rating',
            name='phase',
            field=fields.CharEnumField(description='INITIAL: initial\nMIDDLE: middle\nENDING: ending', enum_type=Phase, max_length=8),
        ),
        AlterFieldState(
            model_name='RatingEvent',
            name='action',
            field=fields.CharEnumField(description='SUBMITTED: submitted\nREOPENED: reopened\nRELEASED: released', enum_type=RatingAction, max_length=16),
        ),
    ]
