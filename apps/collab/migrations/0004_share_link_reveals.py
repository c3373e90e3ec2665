"""What a share link reveals beyond its defaults: one flag per part of a run (git, the
command line, the hostname, directories, the environment, CI), each off unless the
link's creator ticks it. Links made before this showed all of them; they now show
only the defaults, which is the point: a link shows no more than its creator chose."""

from django.db import migrations, models


def _flag() -> models.BooleanField:
    return models.BooleanField(default=False)


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0003_service_token_authors"),
    ]

    operations = [
        migrations.AddField(model_name="sharelink", name="include_git_diff", field=_flag()),
        migrations.AddField(model_name="sharelink", name="include_command", field=_flag()),
        migrations.AddField(model_name="sharelink", name="include_host", field=_flag()),
        migrations.AddField(model_name="sharelink", name="include_directory", field=_flag()),
        migrations.AddField(model_name="sharelink", name="include_environment", field=_flag()),
        migrations.AddField(model_name="sharelink", name="include_ci", field=_flag()),
        migrations.AddConstraint(
            model_name="sharelink",
            constraint=models.CheckConstraint(
                condition=models.Q(run__isnull=False)
                | models.Q(
                    include_artifacts=False,
                    include_git_diff=False,
                    include_command=False,
                    include_host=False,
                    include_directory=False,
                    include_environment=False,
                    include_ci=False,
                ),
                name="share_link_comparison_reveals_nothing",
            ),
        ),
    ]
