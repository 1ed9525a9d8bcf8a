#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    # A developer's shell with neither DEBUG nor SECRET_KEY set is a local checkout: run management
    # commands in development mode. Servers (gunicorn, Celery) never take this path and refuse to
    # start without SECRET_KEY; production sets SECRET_KEY, which keeps DEBUG off here too.
    if "SECRET_KEY" not in os.environ:
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
