"""deploy/tests: the deployment files (Dockerfiles, docker-compose.yml, deploy/**) validated offline.
The helper modules beside this file are imported by name (pytest runs with --import-mode=importlib,
which does not put test directories on sys.path)."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
