#!/bin/sh
# Post what a pull request would change as a comment on it: the meetings it adds, moves or
# cancels, and the emails a sync would then send.  A sketch for GitHub Actions; any CI works the
# same way.  It needs: meet-sched installed, the pull request checked out in the current folder,
# the target branch fetched, and GH_TOKEN for the `gh` command (a step's `env: GH_TOKEN: ...`).
#
#   BASE_REF   the target branch (GitHub: ${{ github.base_ref }}), default main
#   PR         the pull request's number (GitHub: ${{ github.event.number }})
set -eu

BASE_REF=${BASE_REF:-main}
base=$(mktemp -d)
trap 'git worktree remove --force "$base" >/dev/null 2>&1 || true; rm -rf "$base"' EXIT

# The target branch's config, as another checkout: diff compares the two trees by sync's own
# rules in a throw-away database, at one fixed moment (no database of the site is needed).
git worktree add --detach "$base" "origin/$BASE_REF" >/dev/null

status=0
meet-sched diff --base "$base" > diff.txt 2> errors.txt || status=$?
case $status in
  0) exit 0 ;;                          # nothing would change: no comment
  2) title="What this change would do" ;;
  *) title="The config is not valid"; cat errors.txt >> diff.txt ;;
esac

{
  printf '### %s\n\n```\n' "$title"
  cat diff.txt
  printf '```\n'
} > comment.md
gh pr comment "$PR" --body-file comment.md
[ "$status" -eq 2 ] || exit "$status"   # an invalid config fails the check; a change does not
