"""Every container of the app runs its overlay's image and tag, and the GitOps bump moves them all
(issue 16 §3; scripts/deploy_check.py, step 6, with the real `kubectl kustomize`).

The regression: base/kustomization.yaml used to rename `exampleapp` to
ghcr.io/example-org/exampleapp:0.1.0 itself. Kustomize applies an overlay's `images:` to what
the base has already transformed, so the overlays' `name: exampleapp` entries matched only the
Deployments a component adds later: dev and staging ran 0.1.0 instead of their tag, and a bump of
prod's tag left web, the migrate Job and both CronJobs behind. The fixture below puts that block
back into a scratch copy of deploy/kustomize, and the check must name exactly those containers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts import deploy_check, set_image_tag
from scripts.deploy_check import BUMP_TAG, KUSTOMIZE, check_images, check_overlay_images
from tests.deploy.kube import kubectl

OVERLAYS = ["dev", "staging", "prod"]
# The app's containers each overlay runs: those of base (web, the events process, the
# export/import worker, the migrate Job, the two CronJobs) and in prod the four split-by-service
# Deployments. Counting them keeps the check from passing vacuously.
BASE_WORKLOADS = {
    "Deployment web",
    "Deployment events",
    "Deployment portability-worker",
    "Job migrate",
    "CronJob cleanup-uploads",
    "CronJob purge-tombstones",
}
APP_CONTAINERS = {
    "dev": BASE_WORKLOADS,
    "staging": BASE_WORKLOADS,
    "prod": BASE_WORKLOADS
    | {"Deployment identity", "Deployment todos", "Deployment notes", "Deployment library"},
}
# What base/kustomization.yaml said before the fix.
PRE_FIX_BASE_IMAGES = """
images:
  - name: exampleapp
    newName: ghcr.io/example-org/exampleapp
    newTag: "0.1.0"
"""


@pytest.fixture
def pre_fix_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "kustomize"
    shutil.copytree(KUSTOMIZE, tree)
    base = tree / "base" / "kustomization.yaml"
    base.write_text(base.read_text() + PRE_FIX_BASE_IMAGES)
    return tree


def _workloads(containers: list[deploy_check.Container]) -> set[str]:
    return {c.workload for c in containers}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_app_container_runs_the_overlays_image_and_the_bump_moves_it(overlay: str) -> None:
    check = check_overlay_images(kubectl(), KUSTOMIZE, overlay)
    assert check.problems == []
    assert check.bumped is not None
    for result in (check.rendered, check.bumped):
        assert _workloads(result.app) == APP_CONTAINERS[overlay]
        assert len(result.app) == len(APP_CONTAINERS[overlay])  # one app container each
        assert {c.image for c in result.app} == {result.expected}
    assert check.rendered.expected.startswith("ghcr.io/example-org/exampleapp:")
    assert check.bumped.expected == f"ghcr.io/example-org/exampleapp:{BUMP_TAG}"


def test_third_party_images_are_left_out_explicitly() -> None:
    dev = check_overlay_images(kubectl(), KUSTOMIZE, "dev")
    assert {deploy_check.repository(c.image or "") for c in dev.rendered.third_party} == set(
        deploy_check.THIRD_PARTY_IMAGES
    )
    assert _workloads(dev.rendered.third_party) == {
        "StatefulSet postgres",
        "Deployment redis",
        "Deployment minio",
        "Job minio-create-bucket",
    }
    # The bump leaves them alone (the check compares them before and after).
    assert dev.bumped is not None
    assert sorted(f"{c.image}" for c in dev.bumped.third_party) == sorted(
        f"{c.image}" for c in dev.rendered.third_party
    )
    staging = check_overlay_images(kubectl(), KUSTOMIZE, "staging")
    assert {(c.workload, c.name) for c in staging.rendered.operator} == {
        ("Pooler exampleapp-db-pooler-rw", "pgbouncer"),
        ("Pooler exampleapp-db-pooler-ro", "pgbouncer"),
    }
    assert staging.rendered.third_party == []


@pytest.mark.parametrize("overlay", ["dev", "staging"])
def test_the_pre_fix_base_fails_dev_and_staging_outright(pre_fix_tree: Path, overlay: str) -> None:
    check = check_overlay_images(kubectl(), pre_fix_tree, overlay)
    # Rendered as is: the base's containers run 0.1.0, not the overlay's `main` ...
    assert check.rendered.expected == "ghcr.io/example-org/exampleapp:main"
    assert _workloads(check.rendered.stale) == BASE_WORKLOADS
    assert {c.image for c in check.rendered.stale} == {"ghcr.io/example-org/exampleapp:0.1.0"}
    # ... and the bump does not move them either.
    assert check.bumped is not None
    assert _workloads(check.bumped.stale) == BASE_WORKLOADS
    assert len(check.problems) == 2 * len(BASE_WORKLOADS)


def test_the_pre_fix_base_fails_the_prod_bump(pre_fix_tree: Path) -> None:
    check = check_overlay_images(kubectl(), pre_fix_tree, "prod")
    # prod's tag happened to equal the base's (0.1.0), so the rendering alone looked right ...
    assert check.rendered.expected == "ghcr.io/example-org/exampleapp:0.1.0"
    assert check.rendered.stale == []
    # ... but a bump moved only the Deployments of split-by-service: a migration from the old
    # image would have run against the new app.
    assert check.bumped is not None
    assert _workloads(check.bumped.stale) == BASE_WORKLOADS
    assert {c.image for c in check.bumped.stale} == {"ghcr.io/example-org/exampleapp:0.1.0"}
    assert len(check.problems) == len(BASE_WORKLOADS)
    assert all(f"after set_image_tag.py prod {BUMP_TAG}: " in p for p in check.problems)


def _pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"containers": containers, **({"initContainers": init} if init else {})}


def test_every_kind_and_init_containers_are_checked() -> None:
    good = "ghcr.io/example-org/exampleapp:sha-1"
    docs = [
        {
            "kind": "StatefulSet",
            "metadata": {"name": "worker"},
            "spec": {
                "template": {
                    "spec": _pod(
                        [{"name": "app", "image": good}],
                        init=[{"name": "wait", "image": "ghcr.io/example-org/exampleapp:sha-0"}],
                    )
                }
            },
        },
        {
            "kind": "Pod",
            "metadata": {"name": "debug"},
            "spec": _pod([{"name": "app", "image": "exampleapp"}]),
        },
        {
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {"template": {"spec": _pod([{"name": "agent", "image": "docker.io/library/busybox:1"}])}},
        },
        {
            "kind": "CronJob",
            "metadata": {"name": "nightly"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": _pod([{"name": "app", "image": good}])}}}},
        },
        {
            "kind": "Deployment",
            "metadata": {"name": "cache"},
            "spec": {"template": {"spec": _pod([{"name": "redis", "image": "docker.io/library/redis:7"}])}},
        },
    ]
    check = check_images(docs, good)
    assert len(check.app) == 5
    assert [c.workload for c in check.third_party] == ["Deployment cache"]
    assert check.problems == [
        "StatefulSet worker spec.template.spec.initContainers[wait]: ghcr.io/example-org/exampleapp:sha-0, "
        "not the overlay's ghcr.io/example-org/exampleapp:sha-1 (an `images:` entry in base/ or a "
        "component renamed exampleapp before the overlay's entry could match it)",
        "Pod debug spec.containers[app]: exampleapp: the placeholder, which no `images:` entry resolved",
        "DaemonSet agent spec.template.spec.containers[agent]: docker.io/library/busybox:1: neither the "
        "overlay's ghcr.io/example-org/exampleapp:sha-1 nor one of THIRD_PARTY_IMAGES",
    ]


def test_nothing_to_check_is_a_failure() -> None:
    assert check_images([], "ghcr.io/example-org/exampleapp:1").problems == [
        "no container runs the app's image (ghcr.io/example-org/exampleapp:1): nothing was checked"
    ]


def test_set_image_tag_changes_one_line_of_a_copy(tmp_path: Path) -> None:
    overlays = tmp_path / "overlays"
    shutil.copytree(KUSTOMIZE / "overlays", overlays)
    path = overlays / "prod" / "kustomization.yaml"
    before = path.read_text().splitlines()
    real = (KUSTOMIZE / "overlays" / "prod" / "kustomization.yaml").read_text()
    assert set_image_tag.set_image_tag("prod", "sha-0123abcdef01", overlays=overlays)
    after = path.read_text().splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ('    newTag: "0.1.0"', '    newTag: "sha-0123abcdef01"')
    ]
    assert not set_image_tag.set_image_tag("prod", "sha-0123abcdef01", overlays=overlays)
    assert (KUSTOMIZE / "overlays" / "prod" / "kustomization.yaml").read_text() == real


def test_set_image_tag_refuses_bad_input(tmp_path: Path) -> None:
    overlays = tmp_path / "overlays"
    shutil.copytree(KUSTOMIZE / "overlays", overlays)
    script = Path(set_image_tag.__file__)
    bad_tag = subprocess.run(
        [sys.executable, str(script), "--overlays", str(overlays), "prod", "sha:1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad_tag.returncode == 2
    assert "not a valid image tag" in bad_tag.stderr
    # Two entries for the app: which one kustomize uses is not for a regex to guess.
    path = overlays / "dev" / "kustomization.yaml"
    text = path.read_text()
    entry = text[text.index("  - name: exampleapp") : text.index("configMapGenerator:")]
    path.write_text(text.replace(entry, entry + entry))
    with pytest.raises(ValueError, match="expected one `- name: exampleapp` image entry"):
        set_image_tag.set_image_tag("dev", "sha-1", overlays=overlays)
