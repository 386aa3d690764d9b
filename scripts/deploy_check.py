"""`make deploy-check`: every deployment artefact checked offline, in a few seconds.

Run with the deploy virtualenv's Python (.venv-deploy, requirements/deploy.txt), whose bin/
holds the tools:

1. render every overlay (deploy/kustomize/overlays/*), every example (deploy/kustomize/examples/*,
   applied by hand) and deploy/argocd with `kubectl kustomize` into var/deploy-check/ (kept for
   reading);
2. validate every built-in object with `kubernetes-validate --strict` against Kubernetes
   KUBERNETES_VERSION, and every custom resource against its schema in deploy/schemas/
   (an unknown custom kind fails: add its schema or a reason to SKIPPED_KINDS);
3. checkov on the rendered manifests and the Dockerfile (skips justified in deploy/checkov.yaml);
4. hadolint on the Dockerfile;
5. the GitHub workflows against the workflow schema (check-jsonschema's vendored copy; the
   actionlint wheels on PyPI either download their binary at install time or are forks);
6. the app's image: every container and init container of every rendered overlay (Deployments,
   Jobs, CronJobs, StatefulSets, any pod template) runs the image and tag of the overlay's
   `images:` entry, and scripts/set_image_tag.py, run on a scratch copy of deploy/kustomize,
   moves every one of them (third-party images are listed in THIRD_PARTY_IMAGES and left out).

checkov takes most of the time, so it runs while the other steps do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZE = ROOT / "deploy" / "kustomize"
SCHEMAS = ROOT / "deploy" / "schemas"
OUT = ROOT / "var" / "deploy-check"
TOOLS = Path(sys.executable).parent
# The oldest Kubernetes minor the manifests must run on (pod lifecycle `sleep`, matchLabelKeys in
# topology spread and the CronJob timeZone field are all there by then).
KUBERNETES_VERSION = "1.34.0"
# Custom resources: (apiVersion, kind) -> schema file under deploy/schemas/.
CUSTOM_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io/cluster_v1.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "postgresql.cnpg.io/pooler_v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "postgresql.cnpg.io/scheduledbackup_v1.json",
    ("barmancloud.cnpg.io/v1", "ObjectStore"): "barmancloud.cnpg.io/objectstore_v1.json",
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io/application_v1alpha1.json",
}
# Rendered names of deploy/kustomize/examples/* (manifests applied by hand, checked like overlays).
EXAMPLE = "example-"
# Custom kinds accepted without a schema, each with the reason. None so far.
SKIPPED_KINDS: dict[tuple[str, str], str] = {}

# The app's image. Every manifest names it by this placeholder and only an overlay's `images:`
# entry resolves it to a repository and tag (the entry scripts/set_image_tag.py bumps). Kustomize
# applies a kustomization's `images:` to what its resources look like *after* their own
# transforms: an entry in base/ or in a component renames the placeholder first, and the
# overlay's `name: exampleapp` then matches nothing there (issue 16: base pinned
# ghcr.io/example-org/exampleapp:0.1.0, so web, the migrate Job and the CronJobs ignored every
# overlay's tag while the split-by-service Deployments, added later by a component, followed it).
APP_IMAGE = "exampleapp"
# Images that are not the app, by repository, each with why it is there: out of the check's scope
# on purpose (pinned by hand where they are used, never bumped by CI). Any other image is taken
# for the app and must be the overlay's, so an unknown one fails instead of slipping through.
THIRD_PARTY_IMAGES = {
    "docker.io/library/postgres": "components/dev-dependencies: the development PostgreSQL",
    "docker.io/library/redis": "components/dev-dependencies: the development Redis",
    "quay.io/minio/minio": "components/dev-dependencies: MinIO and its bucket Job (mc)",
}
# Containers that name no image because an operator supplies its own: (kind, container) -> why.
OPERATOR_CONTAINERS = {
    ("Pooler", "pgbouncer"): "CloudNativePG runs its own PgBouncer image; the Pooler only sizes it",
}
# What a pod spec lists containers under; searched anywhere in an object, so Deployments, Jobs,
# CronJobs, StatefulSets, DaemonSets, bare Pods and custom resources with pod templates all count.
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# The tag the bump check writes into its scratch copy: valid, and never a real release.
BUMP_TAG = "deploy-check-bump"


class KubeLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: an unquoted date-time stays a string. kustomize drops the
    quotes of `targetTime: "2026-12-04 09:41:00+00"`; YAML 1.1 (PyYAML) would make it a datetime
    and the schema check would fail a manifest the API server accepts."""


KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, started: float, problem: str | None = None) -> None:
        self.timings[name] = time.monotonic() - started
        if problem:
            self.failures.append(f"{name}: {problem}")
            print(f"FAIL {name}\n{problem}", file=sys.stderr)
        else:
            print(f"ok   {name} ({self.timings[name]:.1f} s)")


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make deploy-check` (it installs requirements/deploy.txt)")
    return str(path)


def run(cmd: list[str]) -> str | None:
    """Run a check; None when it passed, else its output."""
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (done.stdout + done.stderr).strip() or f"exit status {done.returncode}"
    return None


class RenderError(Exception):
    pass


def kustomize(kubectl: str, path: Path) -> str:
    """`kubectl kustomize path`: the rendered YAML."""
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(f"{path}: {done.stderr.strip()}")
    return done.stdout


def parse(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=KubeLoader) if doc]


def render(report: Report) -> dict[str, list[dict[str, Any]]]:
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    targets = {p.name: p for p in sorted((KUSTOMIZE / "overlays").iterdir()) if p.is_dir()}
    # Manifests an operator applies by hand (the point-in-time restore): checked like overlays.
    examples = sorted(p for p in (KUSTOMIZE / "examples").iterdir() if p.is_dir())
    targets.update({f"{EXAMPLE}{p.name}": p for p in examples})
    targets["argocd"] = ROOT / "deploy" / "argocd"
    rendered: dict[str, list[dict[str, Any]]] = {}
    problems = []
    for name, path in targets.items():
        try:
            text = kustomize(tool("kubectl"), path)
        except RenderError as exc:
            problems.append(str(exc).replace(f"{ROOT}/", ""))
            continue
        (OUT / f"{name}.yaml").write_text(text)
        rendered[name] = parse(text)
    counts = ", ".join(f"{name} {len(docs)}" for name, docs in rendered.items())
    report.step(f"kubectl kustomize ({counts} objects)", started, "\n".join(problems) or None)
    return rendered


def is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def validate(report: Report, rendered: dict[str, list[dict[str, Any]]]) -> None:
    started = time.monotonic()
    builtin_dir = OUT / "builtin"
    builtin_dir.mkdir(exist_ok=True)
    problems = []
    custom = 0
    for name, docs in rendered.items():
        builtins = [doc for doc in docs if is_builtin(doc["apiVersion"])]
        (builtin_dir / f"{name}.yaml").write_text(yaml.safe_dump_all(builtins, sort_keys=False))
        for doc in docs:
            if is_builtin(doc["apiVersion"]):
                continue
            key = (doc["apiVersion"], doc["kind"])
            where = f"{name}: {doc['kind']} {doc['metadata'].get('name')}"
            if key in SKIPPED_KINDS:
                print(f"     skipped {where}: {SKIPPED_KINDS[key]}")
                continue
            if key not in CUSTOM_SCHEMAS:
                problems.append(f"{where}: no schema for {key} in deploy/schemas (see CUSTOM_SCHEMAS)")
                continue
            schema = json.loads((SCHEMAS / CUSTOM_SCHEMAS[key]).read_text())
            custom += 1
            for error in Draft202012Validator(schema).iter_errors(doc):
                location = "/".join(str(part) for part in error.absolute_path)
                problems.append(f"{where}: {location}: {error.message}")
    files = sorted(str(path) for path in builtin_dir.glob("*.yaml"))
    output = run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, *files])
    if output:
        problems.append(output)
    label = f"kubernetes-validate --strict {KUBERNETES_VERSION}; {custom} custom resources vs deploy/schemas"
    report.step(label, started, "\n".join(problems) or None)


@dataclass(frozen=True)
class Container:
    workload: str  # "CronJob purge-tombstones"
    where: str  # "spec.jobTemplate.spec.template.spec.containers[app]"
    kind: str
    name: str
    image: str | None


def containers(doc: dict[str, Any]) -> Iterator[Container]:
    """Every container of every pod spec in a rendered object, wherever its kind keeps them."""
    workload = f"{doc['kind']} {doc.get('metadata', {}).get('name')}"

    def walk(node: Any, where: str) -> Iterator[Container]:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}[{index}]")
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in CONTAINER_LISTS and isinstance(value, list):
                    for item in value:
                        if isinstance(item, dict):
                            name = str(item.get("name"))
                            image = item.get("image")
                            yield Container(workload, f"{where}.{key}[{name}]", doc["kind"], name, image)
                else:
                    yield from walk(value, f"{where}.{key}")

    yield from walk(doc.get("spec"), "spec")


def repository(image: str) -> str:
    """`registry/path/name` of an image reference, without its tag or digest."""
    name = image.split("@", 1)[0]
    return name[: name.rfind(":")] if name.rfind(":") > name.rfind("/") else name


def overlay_image(overlay: Path) -> str:
    """The image reference the overlay's `images:` entry for the app resolves to."""
    path = overlay / "kustomization.yaml"
    entries = [e for e in yaml.safe_load(path.read_text()).get("images") or [] if e.get("name") == APP_IMAGE]
    if len(entries) != 1:
        raise RenderError(f"{path}: expected one `images:` entry named {APP_IMAGE}, found {len(entries)}")
    [entry] = entries
    name = entry.get("newName", APP_IMAGE)
    if entry.get("digest"):
        return f"{name}@{entry['digest']}"
    if entry.get("newTag") in (None, ""):
        raise RenderError(f"{path}: the {APP_IMAGE} image entry has no newTag")
    return f"{name}:{entry['newTag']}"


@dataclass
class ImageCheck:
    expected: str
    app: list[Container] = field(default_factory=list)
    stale: list[Container] = field(default_factory=list)  # the app's, not on `expected`
    third_party: list[Container] = field(default_factory=list)
    operator: list[Container] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_images(docs: list[dict[str, Any]], expected: str) -> ImageCheck:
    """Sort every container into the app's, third-party and operator-supplied ones; each of the
    app's must run `expected` exactly."""
    check = ImageCheck(expected)
    for doc in docs:
        for container in containers(doc):
            image = container.image
            if image is None and (container.kind, container.name) in OPERATOR_CONTAINERS:
                check.operator.append(container)
                continue
            if image is not None and repository(image) in THIRD_PARTY_IMAGES:
                check.third_party.append(container)
                continue
            check.app.append(container)
            if image == expected:
                continue
            check.stale.append(container)
            if image is None:
                why = "no image"
            elif repository(image) == APP_IMAGE:
                why = f"{image}: the placeholder, which no `images:` entry resolved"
            elif repository(image) == repository(expected):
                why = (
                    f"{image}, not the overlay's {expected} (an `images:` entry in base/ or a "
                    f"component renamed {APP_IMAGE} before the overlay's entry could match it)"
                )
            else:
                why = f"{image}: neither the overlay's {expected} nor one of THIRD_PARTY_IMAGES"
            check.problems.append(f"{container.workload} {container.where}: {why}")
    if not check.app:
        check.problems.append(f"no container runs the app's image ({expected}): nothing was checked")
    return check


@dataclass
class OverlayImages:
    rendered: ImageCheck  # the overlay as it is
    bumped: ImageCheck | None  # a scratch copy after set_image_tag.py; None when the bump failed
    problems: list[str]  # of both


def check_tag_bump(kubectl: str, tree: Path, overlay: str) -> ImageCheck:
    """Run scripts/set_image_tag.py on a scratch copy of `tree` (a deploy/kustomize) and check the
    bumped overlay's rendering against the new tag."""
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as scratch:
        copy = Path(scratch) / "kustomize"
        shutil.copytree(tree, copy)
        script = ROOT / "scripts" / "set_image_tag.py"
        bump = subprocess.run(
            [sys.executable, str(script), "--overlays", str(copy / "overlays"), overlay, BUMP_TAG],
            capture_output=True,
            text=True,
            check=False,
        )
        if bump.returncode != 0:
            raise RenderError(f"set_image_tag.py {overlay} {BUMP_TAG}: {(bump.stdout + bump.stderr).strip()}")
        bumped = copy / "overlays" / overlay
        return check_images(parse(kustomize(kubectl, bumped)), overlay_image(bumped))


def check_overlay_images(
    kubectl: str, tree: Path, overlay: str, docs: list[dict[str, Any]] | None = None
) -> OverlayImages:
    """Both checks for one overlay of `tree`; `docs`: its rendering when already at hand."""
    path = tree / "overlays" / overlay
    rendered = check_images(parse(kustomize(kubectl, path)) if docs is None else docs, overlay_image(path))
    problems = list(rendered.problems)
    try:
        bumped = check_tag_bump(kubectl, tree, overlay)
    except RenderError as exc:
        return OverlayImages(rendered, None, [*problems, str(exc)])
    if bumped.expected != f"{repository(rendered.expected)}:{BUMP_TAG}":
        problems.append(f"set_image_tag.py {overlay} {BUMP_TAG} left the overlay on {bumped.expected}")
    problems += [f"after set_image_tag.py {overlay} {BUMP_TAG}: {p}" for p in bumped.problems]
    if len(bumped.app) != len(rendered.app):
        problems.append(
            f"the bump changed the number of app containers: {len(rendered.app)} -> {len(bumped.app)}"
        )
    if sorted(f"{c.image}" for c in bumped.third_party) != sorted(f"{c.image}" for c in rendered.third_party):
        problems.append(f"set_image_tag.py {overlay} {BUMP_TAG} changed a third-party image")
    return OverlayImages(rendered, bumped, problems)


def app_images(report: Report, rendered: dict[str, list[dict[str, Any]]]) -> None:
    started = time.monotonic()
    problems, counts, skipped = [], [], 0
    for name, docs in rendered.items():
        # The examples are not overlays: no `images:` entry, no app container (a restore Cluster).
        if name == "argocd" or name.startswith(EXAMPLE):
            continue
        try:
            check = check_overlay_images(tool("kubectl"), KUSTOMIZE, name, docs)
        except RenderError as exc:
            problems.append(f"{name}: {exc}")
            continue
        problems += [f"{name}: {problem}" for problem in check.problems]
        counts.append(f"{name} {len(check.rendered.app)}")
        skipped += len(check.rendered.third_party) + len(check.rendered.operator)
    label = (
        f"app image: every container at the overlay's tag and moved by set_image_tag.py "
        f"({', '.join(counts)} containers; {skipped} third-party/operator containers out of scope)"
    )
    report.step(label, started, "\n".join(problems) or None)


def main() -> int:
    report = Report()
    total = time.monotonic()
    rendered = render(report)
    manifests = OUT / "manifests"
    manifests.mkdir(exist_ok=True)
    for name in rendered:
        if name != "argocd":
            (manifests / f"{name}.yaml").write_text((OUT / f"{name}.yaml").read_text())
    # checkov ignores --file next to --directory: give the Dockerfile a directory of its own.
    image = OUT / "image"
    image.mkdir(exist_ok=True)
    (image / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    checkov_started = time.monotonic()
    checkov = subprocess.Popen(
        [
            tool("checkov"),
            "--config-file",
            "deploy/checkov.yaml",
            "--directory",
            str(manifests),
            "--directory",
            str(image),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    validate(report, rendered)
    app_images(report, rendered)
    started = time.monotonic()
    report.step("hadolint Dockerfile", started, run([tool("hadolint"), "--no-color", "Dockerfile"]))
    started = time.monotonic()
    workflows = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))
    problem = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows])
    report.step(f"GitHub workflow schema ({len(workflows)} files)", started, problem)
    output, _ = checkov.communicate()
    summary: dict[str, str] = {}  # checkov repeats a framework's summary once per --directory
    framework = "?"
    for line in output.splitlines():
        if line.endswith(" scan results:"):
            framework = line.split()[0]
        elif line.startswith("Passed checks"):
            summary[framework] = line.strip()
    report.step(
        "checkov (" + "; ".join(f"{name}: {line}" for name, line in summary.items()) + ")",
        checkov_started,
        output.strip() if checkov.returncode else None,
    )
    print(f"deploy-check: {time.monotonic() - total:.1f} s, rendered manifests in {OUT.relative_to(ROOT)}/")
    if report.failures:
        print(f"deploy-check FAILED: {len(report.failures)} step(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
