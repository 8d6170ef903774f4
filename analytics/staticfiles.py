"""Serve plotly.js from the installed plotly package's own file, and nothing else of it.

A staticfiles finder exposing exactly `vendor/plotly.min.js` (the file plotly ships as
plotly/package_data/plotly.min.js), so the version always matches the Python package that
builds the figures, `collectstatic` copies it, WhiteNoise serves it with long-lived caching,
and no CDN is involved. Templates load it with {% static "vendor/plotly.min.js" %}.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PLOTLY_FILE = "plotly.min.js"
STATIC_PATH = f"vendor/{PLOTLY_FILE}"


class PlotlyFinder(BaseFinder):
    """Finds `vendor/plotly.min.js` in the plotly package."""

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == STATIC_PATH and (PLOTLY_DIR / PLOTLY_FILE).is_file():
            found = str(PLOTLY_DIR / PLOTLY_FILE)
            return [found] if (find_all or kwargs.get("all")) else found
        return [] if (find_all or kwargs.get("all")) else None

    def list(self, ignore_patterns):
        storage = FileSystemStorage(location=str(PLOTLY_DIR))
        storage.prefix = "vendor"
        yield PLOTLY_FILE, storage
