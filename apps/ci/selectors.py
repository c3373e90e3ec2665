"""Reads of CI reports."""

from __future__ import annotations

from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When

from apps.ci.models import CiReport
from apps.runs.models import Run


def runs_with_ci_verdict(*, runs: QuerySet[Run]) -> QuerySet[Run]:
    """``runs`` with each run's report verdict as ``ci_verdict`` ("regressed",
    "passed", "no_baseline"; None without a report), the same words as
    ``CiReport.verdict``. A correlated subquery on the report's unique run column,
    so a page of runs costs no extra query and the listing gains no join."""
    verdict = (
        CiReport.objects.filter(run_id=OuterRef("pk"))
        .annotate(
            word=Case(
                When(regressed=True, then=Value("regressed")),
                # JSON null or a missing key: nothing was compared.
                When(
                    Q(comparison__baseline=None) | Q(comparison__baseline__isnull=True),
                    then=Value("no_baseline"),
                ),
                default=Value("passed"),
                output_field=CharField(),
            )
        )
        .values("word")[:1]
    )
    # ``ci_verdict`` is declared on Run, so that it is known on the runs a search returns;
    # django-stubs reports an annotation declared there as a redefinition.
    return runs.annotate(  # type: ignore[no-redef]
        ci_verdict=Subquery(verdict, output_field=CharField())
    )
