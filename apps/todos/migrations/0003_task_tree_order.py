"""The default task order keeps sub-tasks under their parent: derived keys (Task.set_tree) and
their index, which replaces the plain (owner, position, id) one."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def fill_tree_keys(apps, schema_editor):
    Task = apps.get_model("todos", "Task")
    tasks = Task.objects.using(schema_editor.connection.alias)
    tasks.filter(parent__isnull=True).update(tree_position=F("position"), tree_root=F("id"), sub_position="")
    parent_position = Task.objects.filter(id=OuterRef("parent_id")).values("position")[:1]
    tasks.filter(parent__isnull=False).update(
        tree_position=Subquery(parent_position), tree_root=F("parent_id"), sub_position=F("position")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("todos", "0002_field_versions_read_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="tree_position",
            field=models.CharField(
                default="", help_text="derived: the top-level task's position", max_length=255
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="task",
            name="tree_root",
            field=models.UUIDField(help_text="derived: the top-level task's id", null=True),
        ),
        migrations.AddField(
            model_name="task",
            name="sub_position",
            field=models.CharField(
                blank=True, default="", help_text="derived: own position, or ''", max_length=255
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_tree_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="task",
            name="tree_root",
            field=models.UUIDField(help_text="derived: the top-level task's id"),
        ),
        migrations.RemoveIndex(
            model_name="task",
            name="task_owner_position",
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "tree_position", "tree_root", "sub_position", "id"],
                name="task_owner_tree",
            ),
        ),
    ]
