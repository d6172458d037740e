"""Messages numbered per conversation (issue 12, live fan-out): no global message clock.

Each conversation's `last_seq` becomes its own counter, incremented under its row lock by the
transaction inserting a message, so inserts into different conversations never wait on each
other. Existing messages keep their numbers (taken from the former global clock: increasing in
each conversation, so existing message cursors and read positions stay valid); `last_seq`
already held each conversation's latest one, and new messages continue from it. The
conversation list is ordered by the latest message's time (`last_message_at`), and its latest
message is found by id (`last_message_id`): both filled here from the stored messages.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

FILL = """
UPDATE conversation SET
  last_message_id = (SELECT m.id FROM message m WHERE m.conversation_id = conversation.id
                     ORDER BY m.seq DESC LIMIT 1),
  last_message_at = COALESCE((SELECT m.sent_at FROM message m
                              WHERE m.conversation_id = conversation.id
                              ORDER BY m.seq DESC LIMIT 1), conversation.created_at)
"""


async def fill_latest(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(FILL)


async def nothing(apps, schema_editor) -> None:
    pass


class AlterFieldKeepingAttachments(ops.AlterField):
    """Dropping `message.seq`'s global uniqueness makes Tortoise rebuild the table on SQLite,
    and SQLite's DROP TABLE deletes the rows first, cascading to message_attachment (foreign
    keys are on, and cannot be turned off inside the migration's transaction): the
    attachments are kept aside during the rebuild and put back."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        sqlite = state_editor is not None and state_editor.client.capabilities.dialect == "sqlite"
        if sqlite:
            await state_editor.client.execute_script(
                "CREATE TEMP TABLE keep_message_attachment AS SELECT * FROM message_attachment")
        await super().database_forward(app_label, old_state, new_state, state_editor)
        if sqlite:
            await state_editor.client.execute_script(
                "INSERT INTO message_attachment SELECT * FROM keep_message_attachment; "
                "DROP TABLE keep_message_attachment")


class Migration(migrations.Migration):
    dependencies = [('carnet', '0015_account_preferences')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Conversation',
            name='last_message_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Conversation',
            name='last_message_id',
            field=fields.UUIDField(null=True),
        ),
        ops.RunPython(fill_latest, nothing),
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['last_message_at', 'id']),
        ),
        ops.RemoveIndex(
            model_name='Message',
            name=None,
            fields=['conversation_id', 'seq'],
        ),
        AlterFieldKeepingAttachments(
            model_name='Message',
            name='seq',
            field=fields.BigIntField(),
        ),
        ops.AddConstraint(
            model_name='Message',
            constraint=UniqueConstraint(fields=('conversation', 'seq'), name=None),
        ),
        ops.DeleteModel(name='MessageClock'),
    ]
