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
   actionlint wheels on PyPI either download their binary at install time or are forks).

checkov takes most of the time, so it runs while the other steps do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
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
# Custom kinds accepted without a schema, each with the reason. None so far.
SKIPPED_KINDS: dict[tuple[str, str], str] = {}


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


def render(report: Report) -> dict[str, list[dict[str, Any]]]:
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    targets = {p.name: p for p in sorted((KUSTOMIZE / "overlays").iterdir()) if p.is_dir()}
    # Manifests an operator applies by hand (the point-in-time restore): checked like overlays.
    targets.update({f"example-{p.name}": p for p in sorted((KUSTOMIZE / "examples").iterdir()) if p.is_dir()})
    targets["argocd"] = ROOT / "deploy" / "argocd"
    rendered: dict[str, list[dict[str, Any]]] = {}
    problems = []
    for name, path in targets.items():
        done = subprocess.run(
            [tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            problems.append(f"{path.relative_to(ROOT)}: {done.stderr.strip()}")
            continue
        (OUT / f"{name}.yaml").write_text(done.stdout)
        rendered[name] = [doc for doc in yaml.load_all(done.stdout, Loader=KubeLoader) if doc]
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
