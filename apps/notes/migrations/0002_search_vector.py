"""Full-text search on PostgreSQL: a stored generated `search_vector` column and its GIN index.

The column is not a model field on purpose (see apps/notes/models.py): PostgreSQL keeps it
current on every write, and it is never fetched with notes. On any other database (SQLite for
`make run`) this migration does nothing and search falls back to substring matching.

Title words weigh A, body words B, so a match in the title ranks higher. Only the first 100,000
characters of the body are indexed: a tsvector is capped at 1 MB, and adversarial text (many
distinct hyphenated words of 4-byte characters) reaches about 7.7 bytes of tsvector per
character, so 100,000 keeps every body indexable with a margin. The configuration ('english',
with stemming) must match apps/notes/selectors.SEARCH_CONFIG.
"""

from django.db import migrations

FORWARD = [
    """
    ALTER TABLE notes_note ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, left(coalesce(body, ''), 100000)), 'B')
    ) STORED
    """,
    "CREATE INDEX note_search_vector ON notes_note USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS note_search_vector",
    "ALTER TABLE notes_note DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
