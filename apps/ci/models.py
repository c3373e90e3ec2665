"""A CI job's verdict on a run: which baseline it was compared with, the gates, the
comparison as it stood when the job reported, the test counts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.runs.models import Run


class CiReport(models.Model):
    """One per run: written once by ``POST /runs/{id}/ci-report``."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="ci_report")
    # What the job asked for ("branch:main"; "" for the project's setting) and the
    # run it found (kept when that run is deleted later, as a comparison of record).
    baseline_spec = models.CharField(max_length=300, blank=True)
    baseline_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fail_on = models.JSONField(default=list, blank=True)
    comparison = models.JSONField(default=dict)
    junit = models.JSONField(null=True, blank=True)
    regressed = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"CI report of run {self.run_id}"

    @property
    def verdict(self) -> str:
        """ "regressed", "passed", or "no_baseline" (nothing to compare with; passed)."""
        if self.regressed:
            return "regressed"
        return "passed" if self.comparison.get("baseline") else "no_baseline"
