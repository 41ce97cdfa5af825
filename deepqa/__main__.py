"""Allows ``python -m deepqa``."""

from deepqa.cli import main

raise SystemExit(main())
