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
    # Global message sequence of the latest message (ordering of the conversation list).
    last_seq = fields.BigIntField(default=0, db_index=True)

    class Meta:
        table = "conversation"


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
    # Global sequence taken under a row lock on the message clock, inside the inserting
    # transaction: seq order is commit order, so "everything after cursor N" never skips a
    # message that committed late (see shared notes on recovery).
    seq = fields.BigIntField(unique=True)
    author_account_id = fields.IntField()
    body_encrypted = fields.BinaryField()
    sent_at = fields.DatetimeField(auto_now_add=True)
    # Chosen by the sending client: a retry after a timeout returns the message already
    # stored instead of sending it twice.
    client_message_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "message"
        indexes = (("conversation_id", "seq"),)
        unique_together = (("author_account_id", "client_message_id"),)


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


class MessageClock(Model):
    """A single row: its value is the last global message sequence handed out."""

    id = fields.IntField(primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "message_clock"


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
