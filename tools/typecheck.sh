#!/usr/bin/env bash
# Type-checks the installed package layout with mypy. The repository's top-level folders are
# installed as sdnlab.<part> (see setup.py), which mypy cannot follow through the editable
# install's import hook; so this builds a tree of symbolic links with the installed layout
# under .cache/typecheck and checks that. Usage: tools/typecheck.sh [mypy args]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TREE=.cache/typecheck
rm -rf "$TREE" && mkdir -p "$TREE/sdnlab"
for part in controller vnfs topologies labs grader classroom certification; do
    [ -d "$part" ] && ln -s "$ROOT/$part" "$TREE/sdnlab/$part"
done
for entry in sdnlab/*; do
    ln -s "$ROOT/$entry" "$TREE/sdnlab/$(basename "$entry")"
done
ln -s "$ROOT/controller/ryu" "$TREE/ryu"
cd "$TREE"
exec "$ROOT/.venv/bin/mypy" --config-file "$ROOT/pyproject.toml" -p sdnlab -p ryu "$@"
