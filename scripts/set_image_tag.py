"""Point an overlay at another image tag: the GitOps step of CI, also usable by hand.

    python scripts/set_image_tag.py prod sha-0123abc

rewrites `newTag` of the `exampleapp` entry under `images:` in
deploy/kustomize/overlays/<overlay>/kustomization.yaml and leaves every other byte of the file
alone (comments included), so the commit that Argo CD deploys is a one-line diff.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OVERLAYS = Path(__file__).resolve().parent.parent / "deploy" / "kustomize" / "overlays"
IMAGE = "exampleapp"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # the OCI tag grammar
_ENTRY = re.compile(
    rf"(?P<head>^  - name: {IMAGE}\n(?:    (?!newTag:).*\n)*?    newTag: )(?P<tag>.*)$",
    re.MULTILINE,
)


def set_image_tag(overlay: str, tag: str) -> bool:
    """Returns whether the file changed."""
    if not _TAG.match(tag):
        raise ValueError(f"not a valid image tag: {tag!r}")
    path = OVERLAYS / overlay / "kustomization.yaml"
    text = path.read_text()
    updated, count = _ENTRY.subn(lambda m: f'{m["head"]}"{tag}"', text)
    if count != 1:
        raise ValueError(f"{path}: expected one `- name: {IMAGE}` image entry with a newTag, found {count}")
    if updated == text:
        return False
    path.write_text(updated)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    overlay, tag = argv
    changed = set_image_tag(overlay, tag)
    print(f"overlays/{overlay}: image {IMAGE} -> {tag}" + ("" if changed else " (unchanged)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
