"""Service announcements shown on everyone's home page (maintenance, new features)."""

from tortoise import fields
from tortoise.models import Model


class Announcement(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    published_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "announcement"
        ordering = ["-published_at", "-id"]
