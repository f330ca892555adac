"""Files generated from a single source are up to date (deploy/render.py --check):
KafkaTopics from contracts/topics.yaml, the PrometheusRule from deploy/prometheus/alerts.yml, the
production realm and both KeycloakRealmImports from deploy/keycloak/careroute-realm.json."""
from __future__ import annotations

import subprocess
import sys

import pytest
from deployment import ROOT

pytestmark = pytest.mark.unit


def test_generated_files_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "deploy" / "render.py"), "--check"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, (result.stderr + "\nRun `python deploy/render.py` and commit the result.")
