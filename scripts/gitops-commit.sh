#!/usr/bin/env bash
# CI's GitOps step: commit the overlay change that scripts/set_image_tag.py made and push it to
# main, where Argo CD picks it up. Rebases onto commits that landed meanwhile; pushes made with
# the workflow's token start no new workflow run.
#   scripts/gitops-commit.sh "deploy: sha-0123abcd to prod"
set -euo pipefail
cd "$(dirname "$0")/.."
message=${1:?commit message}
if git diff --quiet -- deploy/kustomize/overlays; then
  echo "overlays unchanged: nothing to deploy"; exit 0
fi
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git add deploy/kustomize/overlays
git commit -m "$message"
for attempt in 1 2 3; do
  git pull --rebase origin main && git push origin HEAD:main && exit 0
  echo "push failed (attempt $attempt), retrying"; sleep $((attempt * 5))
done
exit 1
