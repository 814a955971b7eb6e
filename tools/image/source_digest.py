"""The digest of the sources a sandbox image is built from (its ``org.opencontainers.image.revision``).

SHA-256 over the path and bytes of every file the sdnlab wheel is made from (the folders
setup.py maps, plus setup.py and pyproject.toml), caches left out. The image build writes it
as a label and the tests rebuild an image whose label differs from the tree they test, so a
stale image never stands in for the code under test.

    python3 tools/image/source_digest.py          # prints the digest of this checkout
"""

import ast
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"__pycache__", "vendor", "node_modules"}


def installed_folders(root: Path = ROOT) -> list[str]:
    """The top-level folders setup.py's ``FOLDERS`` installs (read from setup.py, not imported:
    importing it would run ``setup()``)."""
    tree = ast.parse((root / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FOLDERS" for t in node.targets):
            folders = ast.literal_eval(node.value)
            return sorted({folder.split("/")[0] for folder in folders.values()})
    raise LookupError(f"{root / 'setup.py'}: no FOLDERS mapping")


def digest(root: Path = ROOT) -> str:
    """The sources' digest (hex)."""
    total = hashlib.sha256()
    files = [root / "setup.py", root / "pyproject.toml"]
    for folder in installed_folders(root):
        files += [p for p in (root / folder).rglob("*") if p.is_file() and not SKIPPED & set(p.parts)]
    for path in sorted(files):
        total.update(str(path.relative_to(root)).encode() + b"\0")
        total.update(hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()


if __name__ == "__main__":
    sys.stdout.write(digest() + "\n")
