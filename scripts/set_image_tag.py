"""Point an overlay at another image tag: the GitOps step of CI, also usable by hand.

    python scripts/set_image_tag.py prod sha-0123abc

rewrites `newTag` of the `exampleapp` entry under `images:` in
deploy/kustomize/overlays/<overlay>/kustomization.yaml and leaves every other byte of the file
alone (comments included), so the commit that Argo CD deploys is a one-line diff.

`--overlays DIR` works on another copy of the overlays: `make deploy-check` bumps a scratch copy
of deploy/kustomize and renders it, to prove the bump reaches every container of the app.
"""

from __future__ import annotations

import argparse
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


def set_image_tag(overlay: str, tag: str, *, overlays: Path = OVERLAYS) -> bool:
    """Returns whether the file changed."""
    if not _TAG.match(tag):
        raise ValueError(f"not a valid image tag: {tag!r}")
    path = overlays / overlay / "kustomization.yaml"
    text = path.read_text()
    updated, count = _ENTRY.subn(lambda m: f'{m["head"]}"{tag}"', text)
    if count != 1:
        raise ValueError(f"{path}: expected one `- name: {IMAGE}` image entry with a newTag, found {count}")
    if updated == text:
        return False
    path.write_text(updated)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overlay", help="an overlay's directory name: dev, staging, prod")
    parser.add_argument("tag", help="the image tag, e.g. sha-0123abcdef01")
    parser.add_argument(
        "--overlays", type=Path, default=OVERLAYS, help="the overlays directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        changed = set_image_tag(args.overlay, args.tag, overlays=args.overlays)
    except (ValueError, OSError) as exc:
        print(f"set_image_tag: {exc}", file=sys.stderr)
        return 2
    print(f"overlays/{args.overlay}: image {IMAGE} -> {args.tag}" + ("" if changed else " (unchanged)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
