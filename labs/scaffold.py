"""``sdnlab lab new ID``: a new lab package that loads, with TODOs where the author must write.

The lab has two parts: the package ``<root>/<id>/`` (lab.yaml, task texts, starter) and its
instructor part (reference solution, hidden.yaml; see ``sdnlab.instructor``): for the catalogue
``instructor/labs/<id>/`` of the source checkout (or ``$SDNLAB_INSTRUCTOR_DIR/labs/<id>``), for a
lab made with ``--root R`` ``R/instructor/<id>/``.
"""

from __future__ import annotations

from pathlib import Path

from sdnlab.labs.errors import LabPackageError
from sdnlab.labs.loader import ID_PATTERN, lab_dirs, labs_root

LAB_YAML = """\
# {id}: TODO one line on what the trainee builds.
id: {id}
number: {number}
title:
  en: "TODO English title"
  ja: "TODO 日本語のタイトル"
summary:
  en: TODO one sentence.
  ja: TODO 一文で。
level: beginner
minutes: 30
skills: {{network: 2}}
topology:
  name: linear
  params: {{switches: 2}}
controller: {{mode: none}}     # none | builtin (config: FILE) | app (app: FILE.py)
behaviours:
  - id: h1-reaches-h2
    description: {{en: "h1 reaches h2 (ARP and IP)", ja: "h1 から h2 に届く（ARP と IP）"}}
    reach: {{src: h1, dst: h2, traffic: any}}
hints:
  - en: "TODO a gentle hint"
    ja: "TODO やさしいヒント"
  - en: "TODO an explicit hint"
    ja: "TODO 具体的なヒント"
"""

HIDDEN_YAML = """\
# {id}: the hidden checks (instructor data: never installed, never shown to a trainee; graded
# at submit and by the instructor commands). Same format as lab.yaml's behaviours and probes.
behaviours:
  - id: h2-reaches-h1
    description: {{en: "h2 reaches h1 (ARP and IP)", ja: "h2 から h1 に届く（ARP と IP）"}}
    reach: {{src: h2, dst: h1, traffic: any}}
"""

README = {
    "en": "# {id}\n\nTODO: the task, the topology, what `sdnlab lab check` verifies.\n",
    "ja": "# {id}\n\nTODO: 課題、トポロジー、`sdnlab lab check` が確認すること。\n",
}


def new_lab(lab_id: str, root: Path | None = None) -> Path:
    """Create ``<root>/<id>/`` with lab.yaml, README.md, README.ja.md and starter/flows, and its
    instructor part with solution/flows and hidden.yaml (see the module docstring)."""
    from sdnlab import instructor

    root = Path(root) if root else labs_root()
    if not root.is_dir():
        raise LabPackageError(
            f"--root {root}: no such folder (create it first, or leave --root out for the catalogue)"
        )
    if not ID_PATTERN.match(lab_id):
        raise LabPackageError(
            f"lab id {lab_id!r}: use lower-case letters, digits and '_' (2-40), starting with a letter"
        )
    target = root / lab_id
    if target.exists():
        raise LabPackageError(f"{target} already exists")
    if root.resolve() == labs_root():
        part = instructor.catalogue_part(lab_id)
    else:
        part = instructor.companion(target)
    if part.exists():
        raise LabPackageError(f"{part} already exists")
    numbers = []
    for d in lab_dirs(root):
        for line in (d / "lab.yaml").read_bytes().decode("utf-8", "replace").splitlines():
            if line.startswith("number:") and line.split(":", 1)[1].strip().isdigit():
                numbers.append(int(line.split(":", 1)[1]))
    number = max(numbers, default=0) + 1
    (target / "starter" / "flows").mkdir(parents=True)
    (part / "solution" / "flows").mkdir(parents=True)
    (part / "hidden.yaml").write_text(HIDDEN_YAML.format(id=lab_id), encoding="utf-8")
    (target / "lab.yaml").write_text(LAB_YAML.format(id=lab_id, number=number), encoding="utf-8")
    (target / "README.md").write_text(README["en"].format(id=lab_id), encoding="utf-8")
    (target / "README.ja.md").write_text(README["ja"].format(id=lab_id), encoding="utf-8")
    for switch in ("s1", "s2"):
        (target / "starter" / "flows" / f"{switch}.flows").write_text(
            "# TODO: the trainee's starting flows\n"
        )
        (part / "solution" / "flows" / f"{switch}.flows").write_text(
            "# TODO: the reference flows\npriority=0,actions=drop\n"
        )
    return target
