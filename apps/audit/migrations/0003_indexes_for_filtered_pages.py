"""Indexes for the audit page's filters, each in keyset order (project, filter, id
descending). The single-column indexes on created_at, action and project_id go: every
read names a project, and the composites lead with it.

Building them blocks writes to the audit table meanwhile: 7.5 s for 1,000,000 events on
a 2-core VM (bench/README.md, "Audit").

SQLite rebuilds a table to alter a field, and the rebuilt table has lost the
append-only trigger of 0002; it is put back after the rebuild, both ways.
"""

import django.utils.timezone
from django.db import migrations, models

SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS audit_event_append_only BEFORE UPDATE ON audit_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""


def sqlite_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only_trigger'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_trigger),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='project_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project_id', '-id'], name='audit_project_newest'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project_id', 'action', '-id'], name='audit_project_action'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project_id', 'target_type', 'target_id', '-id'], name='audit_project_target'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project_id', 'actor_label', '-id'], name='audit_project_actor'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['project_id', 'actor_user_label', '-id'], name='audit_project_actor_user'),
        ),
        migrations.RunPython(sqlite_trigger, migrations.RunPython.noop),
    ]
