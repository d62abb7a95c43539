"""Makes ``tests/`` importable, so test modules can share the fixture writers of ``formats.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
