"""Per-trainee lab variants: a seed picks values for a lab's variables; templates render one ordinary lab.

A variable lab keeps its catalogue files (the *default* variant, so every other part of sdnlab
loads it unchanged) and adds ``variant/``:

- ``variant/variables.yaml``: ``variables: {NAME: {choice: [...]} | {min: A, max: B}}`` and
  ``default: {NAME: VALUE}`` (the values the catalogue files were written for);
- ``variant/templates/**``: files that vary (``lab.yaml``, task texts, topology, starter,
  solution) at their path in the lab, with ``{{NAME}}`` placeholders;
- optionally ``variant/derive.py`` with ``derive(values) -> dict``: more values computed from the
  chosen ones (flow lines for a variable number of hosts, ...); its ``__files__`` entry, if any,
  maps lab-relative paths to whole generated files (one flow file per switch of a ring whose
  size varies).

The instructor part of the lab (``sdnlab.instructor``: ``solution/``, ``hidden.yaml``) varies the
same way, from ``instructor/labs/<id>/variant/templates/**`` and an optional
``instructor/labs/<id>/variant/derive.py`` (generated solution files, given the values the
public ``derive.py`` computed); a public template or ``derive.py`` never writes ``solution/``.

``render(lab_dir, seed, out)`` copies the lab without ``variant/``, renders every template over
it and writes ``variant.json`` (seed and values); the result is a normal lab folder that
``sdnlab.labs.loader.load_lab`` loads. Where the instructor part is available it is rendered to
``out/instructor/<id>`` (where the loader finds it); elsewhere the variant has its public part
only. The same seed always gives the same variant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sdnlab import textfile
from sdnlab.certification.errors import VariantError
from sdnlab.yamlsrc import Where, YamlSyntaxError, line_of, load_yaml

VARIANT_DIR = "variant"
VARIABLES = "variables.yaml"
TEMPLATES = "templates"
DERIVE = "derive.py"
RECORD = "variant.json"
GENERATED = "__files__"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Domain:
    """The values a variable may take."""

    name: str
    values: tuple


@dataclass(frozen=True)
class VariableSpec:
    """A lab's variables, their domains and the default variant."""

    domains: tuple[Domain, ...]
    default: dict
    source: str

    @property
    def combinations(self) -> int:
        count = 1
        for domain in self.domains:
            count *= len(domain.values)
        return count


@dataclass(frozen=True)
class RenderedLab:
    """One rendered variant."""

    path: Path
    seed: int
    values: dict


def is_variable(lab_dir: Path) -> bool:
    """True when the lab declares variables."""
    return (Path(lab_dir) / VARIANT_DIR / VARIABLES).is_file()


def load_spec(lab_dir: Path) -> VariableSpec:
    """``variant/variables.yaml`` validated (file:line errors)."""
    path = Path(lab_dir) / VARIANT_DIR / VARIABLES
    source = str(path)
    try:
        data = load_yaml(textfile.read_text(path, VariantError), source)
    except YamlSyntaxError as exc:
        raise VariantError(str(exc)) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise VariantError(f"{source}: expected a mapping with variables and default")
    for key in sorted(set(data) - {"variables", "default"}, key=str):
        problems.append(
            f"{Where(source, line_of(data, key))}: {key}: unknown key (expected variables, default)"
        )
    raw = data.get("variables")
    domains = []
    if not isinstance(raw, dict) or not raw:
        problems.append(
            f"{Where(source, line_of(data, 'variables'))}: variables: expected a mapping of NAME to a domain"
        )
        raw = {}
    for name, domain in raw.items():
        where = Where(source, line_of(raw, name))
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}: variables.{name}: expected a lower-case name")
            continue
        if isinstance(domain, dict) and "choice" in domain and set(domain) == {"choice"}:
            values = domain["choice"]
            if not isinstance(values, list) or not values or len(set(map(str, values))) != len(values):
                problems.append(f"{where}: variables.{name}.choice: expected a list of distinct values")
                continue
            domains.append(Domain(name, tuple(values)))
        elif isinstance(domain, dict) and set(domain) == {"min", "max"}:
            low, high = domain["min"], domain["max"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low > high:
                problems.append(f"{where}: variables.{name}: expected whole numbers min <= max")
                continue
            domains.append(Domain(name, tuple(range(low, high + 1))))
        else:
            problems.append(f"{where}: variables.{name}: expected {{choice: [...]}} or {{min: A, max: B}}")
    default = data.get("default")
    if not isinstance(default, dict):
        problems.append(
            f"{Where(source, line_of(data, 'default'))}: default: expected the catalogue files' values"
        )
        default = {}
    for domain in domains:
        if domain.name not in default:
            problems.append(f"{Where(source, line_of(default, domain.name))}: default.{domain.name}: missing")
        elif default[domain.name] not in domain.values:
            problems.append(
                f"{Where(source, line_of(default, domain.name))}: default.{domain.name}: not in its domain"
            )
    if problems:
        raise VariantError(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  " + "\n  ".join(problems)
        )
    return VariableSpec(tuple(domains), {d.name: default[d.name] for d in domains}, source)


def pick(spec: VariableSpec, lab_id: str, seed: int) -> dict:
    """The values a seed selects (stable across runs and Python versions)."""
    digest = hashlib.sha256(f"sdnlab-variant:{lab_id}:{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    return {d.name: d.values[rng.randrange(len(d.values))] for d in spec.domains}


def derive(lab_dir: Path, values: dict) -> dict:
    """``values`` plus what ``variant/derive.py`` computes from them (if the lab has one).

    ``lab_dir`` may be a lab's instructor part too (its ``variant/derive.py`` generates the
    solution files)."""
    path = Path(lab_dir) / VARIANT_DIR / DERIVE
    if not path.is_file():
        return dict(values)
    module_name = f"sdnlab_variant_{Path(lab_dir).parent.name}_{Path(lab_dir).name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise VariantError(f"{path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    extra = module.derive(dict(values))
    if not isinstance(extra, dict):
        raise VariantError(f"{path}: derive() must return a dict of extra values")
    return {**extra, **values}


# placeholders filled later, when a trainee reads the text (sdnlab.labs.render.fill_session) or
# the lab runs (the controller's address): a variant keeps them as written
RUNTIME_PLACEHOLDERS = frozenset({"session", "controller_url"})


def fill(text: str, values: dict, source: str) -> str:
    """Replace every ``{{NAME}}``; an unknown name is an error naming the file and line."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name in RUNTIME_PLACEHOLDERS and name not in values:
            return match.group(0)
        if name not in values:
            line = text.count("\n", 0, match.start()) + 1
            raise VariantError(
                f"{source}:{line}: unknown variable {name!r} (known: {', '.join(sorted(values))})"
            )
        return str(values[name])

    return PLACEHOLDER.sub(one, text)


def templates(lab_dir: Path) -> list[Path]:
    """The template files of a variable lab, relative to ``variant/templates``."""
    root = Path(lab_dir) / VARIANT_DIR / TEMPLATES
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def _write_generated(target: Path, generated: dict, derive_file: Path, instructor_side: bool) -> None:
    for relative, text in sorted(generated.items()):
        parts = Path(relative).parts
        if ".." in parts or Path(relative).is_absolute():
            raise VariantError(f"{derive_file}: generated file {relative!r} is outside the lab")
        if not instructor_side and parts[:1] == ("solution",):
            raise VariantError(
                f"{derive_file}: generated file {relative!r}: solution files are instructor data "
                "(generate them in instructor/labs/<id>/variant/derive.py)"
            )
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _render_templates(source_dir: Path, target: Path, values: dict, instructor_side: bool) -> None:
    root = Path(source_dir) / VARIANT_DIR / TEMPLATES
    for relative in templates(source_dir):
        if not instructor_side and relative.parts[:1] == ("solution",):
            raise VariantError(
                f"{root / relative}: solution templates are instructor data "
                "(instructor/labs/<id>/variant/templates/solution)"
            )
        source = root / relative
        text = fill(textfile.read_text(source, VariantError), values, str(source))
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text, encoding="utf-8")


def render_values(lab_dir: Path, values: dict, out: Path, seed: int | None = None) -> RenderedLab:
    """Write the lab rendered with ``values`` into ``out/<lab id>`` (replacing it), and its
    instructor part, where this machine has it, into ``out/instructor/<lab id>``."""
    from sdnlab import instructor

    lab_dir = Path(lab_dir).resolve()
    target = Path(out) / lab_dir.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(lab_dir, target, ignore=shutil.ignore_patterns(VARIANT_DIR, "__pycache__"))
    full = derive(lab_dir, values)
    generated = full.pop(GENERATED, {}) or {}
    _write_generated(target, generated, lab_dir / VARIANT_DIR / DERIVE, instructor_side=False)
    _render_templates(lab_dir, target, full, instructor_side=False)
    part = instructor.lab_part(lab_dir)
    side = instructor.companion(target)
    if side.exists():
        shutil.rmtree(side)
    if part is not None:
        shutil.copytree(part, side, ignore=shutil.ignore_patterns(VARIANT_DIR, "__pycache__"))
        extra = derive(part, full)
        _write_generated(side, extra.pop(GENERATED, {}) or {}, part / VARIANT_DIR / DERIVE, True)
        _render_templates(part, side, extra, instructor_side=True)
    (target / RECORD).write_text(
        json.dumps({"seed": seed, "values": values}, indent=1, sort_keys=True) + "\n"
    )
    return RenderedLab(target, seed if seed is not None else -1, dict(values))


def render(lab_dir: Path, seed: int, out: Path) -> RenderedLab:
    """Render the variant a seed selects into ``out/<lab id>``; a lab without variables is copied as is."""
    lab_dir = Path(lab_dir)
    if not is_variable(lab_dir):
        return render_values(lab_dir, {}, out, seed)
    spec = load_spec(lab_dir)
    return render_values(lab_dir, pick(spec, lab_dir.name, seed), out, seed)


def default_drift(lab_dir: Path, scratch: Path) -> list[str]:
    """Template files whose default rendering differs from the catalogue file (they must match),
    on the public side and, where available, on the instructor side."""
    from sdnlab import instructor

    spec = load_spec(lab_dir)
    rendered = render_values(lab_dir, spec.default, scratch)
    full = derive(lab_dir, spec.default)
    sides = [(Path(lab_dir), rendered.path, full)]
    part = instructor.lab_part(lab_dir)
    if part is not None:
        public = {k: v for k, v in full.items() if k != GENERATED}
        sides.append((part, instructor.companion(rendered.path), derive(part, public)))
    problems = []
    for ours_dir, theirs_dir, values in sides:
        generated = sorted(values.get(GENERATED, {}) or {})
        for relative in [*templates(ours_dir), *map(Path, generated)]:
            ours = ours_dir / relative
            if not ours.is_file() or ours.read_bytes() != (theirs_dir / relative).read_bytes():
                problems.append(
                    f"{ours}: differs from variant/templates/{relative} rendered with the default values"
                )
    return problems


VALIDATE_SEEDS = 6


def variant_problems(lab_dir: Path, scratch: Path, seeds: int = VALIDATE_SEEDS) -> list[str]:
    """Checks of a variable lab on several seeds (static grading; labs that need a network are skipped).

    Each seed's reference solution scores 100% and its starter less; the default rendering equals
    the catalogue files; and the solution of one variant fails on every variant with other values
    (a copied answer does not pass).
    """
    from sdnlab.errors import SdnlabError
    from sdnlab.labs import grading
    from sdnlab.labs.loader import load_lab

    lab_dir = Path(lab_dir)
    if not is_variable(lab_dir):
        return []
    try:
        problems = default_drift(lab_dir, Path(scratch) / "default")
        rendered = [render(lab_dir, seed, Path(scratch) / f"seed-{seed}") for seed in range(seeds)]
        labs = [load_lab(r.path) for r in rendered]
    except SdnlabError as exc:
        return [str(exc)]
    if labs[0].controller.mode != "none" or labs[0].vnfs:  # flows come from a controller: needs a network
        return problems
    distinct = {json.dumps(r.values, sort_keys=True) for r in rendered}
    if len(distinct) < 2:
        problems.append(f"{lab_dir}: seeds 0..{seeds - 1} all render the same variant")
    for r, lab in zip(rendered, labs, strict=True):
        solution = grading.grade_static(lab, lab.solution_dir).percent
        starter = grading.grade_static(lab, lab.starter_dir).percent
        if solution < 100.0:
            problems.append(f"variant seed {r.seed} {r.values}: the solution scores {solution:g}%, not 100%")
        if starter >= 100.0:
            problems.append(f"variant seed {r.seed} {r.values}: the starter already scores 100%")
    for a, lab_a in zip(rendered, labs, strict=True):
        for b, lab_b in zip(rendered, labs, strict=True):
            if a.values == b.values:
                continue
            try:
                copied = grading.grade_static(lab_b, lab_a.solution_dir).percent
            except SdnlabError:  # e.g. flow files for switches the other variant does not have
                copied = 0.0
            if copied >= 100.0:
                problems.append(
                    f"the solution of seed {a.seed} {a.values} scores 100% on seed {b.seed} {b.values}"
                )
    return sorted(set(problems))


def render_for_session(lab_dir: Path, seed: int, session: str) -> Path:
    """Render a lab's variant for ``sdnlab lab start --seed`` into ``$SDNLAB_HOME/variants/<session>``."""
    from sdnlab.labs.progress import sdnlab_home
    from sdnlab.runtime.paths import check_name

    return render(lab_dir, seed, sdnlab_home() / "variants" / check_name(session)).path
