"""A young adult's notice at 18 (issue 15 part 7, backend/onboarding/majority.py): the notices
of campaign_person gain `reason` (campaign, majority, handed_over: which text the email or
letter has; existing rows are campaign notices) and the channel NONE (no contact known: nothing
is sent; the column is unchanged, only its description).

No new table; campaign_person stays unversioned (migration 0024) and keeps its distribution
classification (docs/scaling.md). On SQLite the AlterField rebuilds the table, which drops its
indexes: they are created again after it, with their names (a no-op on PostgreSQL).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.onboarding.models import NoticeChannel, NoticeReason
from tortoise import fields

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED: tuple[str, ...] = ()
# campaign_person's indexes (0024's, named by Tortoise, and 0029's), as they were created.
INDEXES = (
    ("idx_campaign_pe_key_id_d363a7", '"key_id"'),
    ("idx_campaign_pe_channel_9961db", '"channel", "sent_at", "id"'),
    ("idx_campaign_pe_campaig_1acd0f", '"campaign_id"'),
    ("idx_campaign_pe_letter__7eb20f", '"letter_batch"'),
    ("idx_campaign_person_person_id", '"person_id"'),
)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0029_indexes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='NotifiedPerson',
            name='channel',
            field=fields.CharEnumField(description='EMAIL: email\nLETTER: letter\nNONE: none', enum_type=NoticeChannel, max_length=6),
        ),
        ops.AddField(
            model_name='NotifiedPerson',
            name='reason',
            field=fields.CharEnumField(default=NoticeReason.CAMPAIGN, db_default='campaign', description='CAMPAIGN: campaign\nMAJORITY: majority\nHANDED_OVER: handed_over', enum_type=NoticeReason, max_length=11),
        ),
    ] + [
        ops.RunSQL(f'CREATE INDEX IF NOT EXISTS "{name}" ON "campaign_person" ({columns})',
                   reverse_sql="SELECT 1")
        for name, columns in INDEXES
    ]
