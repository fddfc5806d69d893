#!/usr/bin/env bash
# Fails when the generated wire code is not up to date with api/models or
# the generator: regenerates, then checks that nothing tracked changed and
# that no new (untracked) generated file appeared.
set -euo pipefail

cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"

paths=(internal/wire internal/testclient)

go generate ./internal/wire/...

status=0
if ! git diff --exit-code --stat -- "${paths[@]}"; then
	echo "check-generated: generated files changed; run 'go generate ./internal/wire/...' and commit the result" >&2
	status=1
fi

untracked=$(git ls-files --others --exclude-standard -- "${paths[@]}" | grep -E '_gen\.go$' || true)
if [ -n "$untracked" ]; then
	echo "check-generated: untracked generated files (add them to git):" >&2
	echo "$untracked" >&2
	status=1
fi

exit "$status"
