"""NoteStorage: the bytes of text each user's notes hold, kept by PostgreSQL triggers.

Counted (UTF-8 bytes of title + body): every live note, and every revision of a live note. One
statement-level trigger per table and event, with transition tables, so a bulk insert of a
hundred notes costs one aggregate, not a hundred. Deletes only decrement an existing row, never
create one: account deletion may remove the NoteStorage row before the notes (Django picks the
order), and a new row for a deleted account would fail its foreign key at commit. A note never
changes owner. On any other database (SQLite for `make run`) nothing is installed here and
selectors.note_storage_usage sums the rows.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_TEXT = "octet_length({t}.title)::bigint + octet_length({t}.body)"
_ADD = """
    INSERT INTO notes_notestorage AS storage (owner_id, bytes)
    SELECT owner_id, SUM(delta) FROM ({changes}) AS changes GROUP BY owner_id HAVING SUM(delta) <> 0
    ON CONFLICT (owner_id) DO UPDATE SET bytes = storage.bytes + excluded.bytes;
"""
_SUBTRACT = """
    UPDATE notes_notestorage AS storage SET bytes = storage.bytes - gone.bytes
    FROM ({changes}) AS gone WHERE storage.owner_id = gone.owner_id;
"""
# (function and trigger name, table, event, transition tables, body)
TRIGGERS = [
    (
        "notes_storage_note_insert",
        "notes_note",
        "INSERT",
        "NEW TABLE AS new_notes",
        _ADD.format(
            changes=f"SELECT owner_id, {_TEXT.format(t='n')} AS delta FROM new_notes n WHERE n.deleted_at IS NULL"
        ),
    ),
    (
        "notes_storage_note_update",
        "notes_note",
        "UPDATE",
        "OLD TABLE AS old_notes NEW TABLE AS new_notes",
        _ADD.format(
            changes=f"""
            SELECT n.owner_id,
                   CASE WHEN n.deleted_at IS NULL THEN {_TEXT.format(t='n')} ELSE 0 END
                 - CASE WHEN o.deleted_at IS NULL THEN {_TEXT.format(t='o')} ELSE 0 END
                 + CASE WHEN (n.deleted_at IS NULL) = (o.deleted_at IS NULL) THEN 0
                        ELSE (CASE WHEN n.deleted_at IS NULL THEN 1 ELSE -1 END) * COALESCE(
                            (SELECT SUM({_TEXT.format(t='r')}) FROM notes_noterevision r
                             WHERE r.note_id = n.id), 0)
                   END AS delta
            FROM new_notes n JOIN old_notes o ON o.id = n.id"""
        ),
    ),
    (
        "notes_storage_note_delete",
        "notes_note",
        "DELETE",
        "OLD TABLE AS old_notes",
        _SUBTRACT.format(
            changes=f"""SELECT owner_id, SUM({_TEXT.format(t='o')}) AS bytes FROM old_notes o
            WHERE o.deleted_at IS NULL GROUP BY owner_id"""
        ),
    ),
    (
        "notes_storage_revision_insert",
        "notes_noterevision",
        "INSERT",
        "NEW TABLE AS new_revisions",
        _ADD.format(
            changes=f"""SELECT n.owner_id, {_TEXT.format(t='r')} AS delta
            FROM new_revisions r JOIN notes_note n ON n.id = r.note_id WHERE n.deleted_at IS NULL"""
        ),
    ),
    (
        "notes_storage_revision_update",
        "notes_noterevision",
        "UPDATE",
        "OLD TABLE AS old_revisions NEW TABLE AS new_revisions",
        _ADD.format(
            changes=f"""SELECT n.owner_id, {_TEXT.format(t='r')} - {_TEXT.format(t='o')} AS delta
            FROM new_revisions r JOIN old_revisions o ON o.id = r.id
            JOIN notes_note n ON n.id = r.note_id WHERE n.deleted_at IS NULL"""
        ),
    ),
    (
        "notes_storage_revision_delete",
        "notes_noterevision",
        "DELETE",
        "OLD TABLE AS old_revisions",
        _SUBTRACT.format(
            changes=f"""SELECT n.owner_id, SUM({_TEXT.format(t='r')}) AS bytes
            FROM old_revisions r JOIN notes_note n ON n.id = r.note_id
            WHERE n.deleted_at IS NULL GROUP BY n.owner_id"""
        ),
    ),
]

FILL = f"""
INSERT INTO notes_notestorage (owner_id, bytes)
SELECT owner_id, SUM(bytes) FROM (
    SELECT n.owner_id, {_TEXT.format(t='n')} AS bytes FROM notes_note n WHERE n.deleted_at IS NULL
    UNION ALL
    SELECT n.owner_id, {_TEXT.format(t='r')} FROM notes_noterevision r
    JOIN notes_note n ON n.id = r.note_id WHERE n.deleted_at IS NULL
) AS text GROUP BY owner_id
"""


def _install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, event, transitions, body in TRIGGERS:
        schema_editor.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transitions} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    schema_editor.execute(FILL)


def _uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, _event, _transitions, _body in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("notes", "0003_file_links"),
    ]

    operations = [
        migrations.CreateModel(
            name="NoteStorage",
            fields=[
                (
                    "owner",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("bytes", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(_install, _uninstall, elidable=False),
    ]
