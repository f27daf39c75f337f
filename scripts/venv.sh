#!/usr/bin/env bash
# Creates (when missing) the Python venv pinned by scripts/requirements.txt and prints its path.
#   ${XDG_CACHE_HOME:-~/.cache}/steer/venv-<first 12 hex of sha256(requirements.txt)>
# .complete marks a finished install: an interrupted one is redone. Progress goes to stderr; stdout is only the venv path, so: PY="$(scripts/venv.sh)/bin/python".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements.txt"
hash="$(sha256sum "$req" | cut -c1-12)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/steer/venv-$hash"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  python="${PYTHON:-python3}"
  mkdir -p "$(dirname "$venv")"
  echo "venv.sh: creating $venv (this downloads torch: several GB)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --upgrade pip >&2
  "$venv/bin/pip" install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
