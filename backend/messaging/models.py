"""Secure messaging: conversations about one patient, their participants and messages.

Every conversation concerns exactly one patient (a participant, or the subject of a
professionals-only conversation): message bodies and subjects are encrypted with that
patient's data key, like their documents.
"""

from tortoise import fields
from tortoise.models import Model


class Conversation(Model):
    id = fields.UUIDField(primary_key=True)
    patient: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="conversations", on_delete=fields.RESTRICT
    )
    # True when the patient takes part; False for professionals talking about them.
    patient_participates = fields.BooleanField(default=True)
    subject_encrypted = fields.BinaryField()
    data_key_id = fields.IntField()
    created_by_account_id = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    # This conversation's own message sequence: the seq of its latest message. Incremented by
    # each insert under the row lock (UPDATE in the inserting transaction): inserts into one
    # conversation queue on it, inserts into different conversations never wait on each other.
    # (Still indexed: dropping it would make Tortoise rebuild this table on SQLite, whose DROP
    # TABLE cascades to participants and messages.)
    last_seq = fields.BigIntField(default=0, db_index=True)
    # The latest message (no foreign key: a cycle with message) and when it was sent: the
    # conversation list is ordered by (last_message_at, id), newest first.
    last_message_id = fields.UUIDField(null=True)
    last_message_at = fields.DatetimeField(null=True)

    class Meta:
        table = "conversation"
        indexes = (("last_message_at", "id"),)


class Participant(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "carnet.Conversation", related_name="participants", on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Account", related_name="participations", on_delete=fields.RESTRICT
    )
    # Read position: every message with seq <= read_seq has been read.
    read_seq = fields.BigIntField(default=0)
    # Highest seq a "message waiting" notification was sent for (at most one per message).
    notified_seq = fields.BigIntField(default=0)
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "conversation_participant"
        unique_together = (("conversation", "account"),)
        # "My conversations" (the list, the inbox, the unread total) start from the account.
        indexes = (("account_id", "conversation_id"),)


class Message(Model):
    id = fields.UUIDField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "carnet.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    # Position in its conversation, taken from the conversation row (`last_seq + 1`) under
    # its row lock inside the inserting transaction: within a conversation seq order is commit
    # order, so "everything after cursor N" never skips a message that committed late (see
    # shared notes on recovery). Strictly increasing, gap-free for messages inserted since
    # migration 0016 (older ones keep their former global numbers, increasing too).
    seq = fields.BigIntField()
    author_account_id = fields.IntField()
    body_encrypted = fields.BinaryField()
    sent_at = fields.DatetimeField(auto_now_add=True)
    # Chosen by the sending client: a retry after a timeout returns the message already
    # stored instead of sending it twice.
    client_message_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "message"
        unique_together = (("conversation", "seq"), ("author_account_id", "client_message_id"))


class MessageAttachment(Model):
    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "carnet.Message", related_name="attachments", on_delete=fields.CASCADE
    )
    document: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Document", related_name="message_attachments", on_delete=fields.RESTRICT
    )

    class Meta:
        table = "message_attachment"
        unique_together = (("message", "document"),)


class Block(Model):
    """A patient blocked a professional: they can no longer write to them."""

    id = fields.IntField(primary_key=True)
    patient_account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Account", related_name="blocks", on_delete=fields.CASCADE
    )
    professional: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="blocked_by", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "messaging_block"
        unique_together = (("patient_account", "professional"),)
