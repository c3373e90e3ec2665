"""A static files finder for plotly.js, taken from the installed ``plotly`` package."""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
# Served as /static/vendor/plotly.min.js
SERVED = {"vendor/plotly.min.js": "plotly.min.js"}


class PlotlyStorage(FileSystemStorage):
    # collectstatic copies what a finder lists under its storage's ``prefix``.
    prefix = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = PlotlyStorage(location=str(PLOTLY_DIR))

    def check(self, **kwargs) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        # Nothing found is [] for both forms, as Django's own finders answer:
        # staticfiles.finders.find() turns a None into [None], a match.
        if path in SERVED:
            found = str(PLOTLY_DIR / SERVED[path])
            return [found] if find_all else found
        return []

    def list(self, ignore_patterns):
        for name in SERVED.values():
            yield name, self.storage
