"""``kiroku ci report``: record a CI job's evaluation as a run, compare it with the
baseline, summarise it in the job and the pull request, and gate regressions."""
