"""``lab validate`` shows why a solution fails and which checks hold vacuously (issue 11 items 3 and 9)."""

from __future__ import annotations

from sdnlab.labs.validate import validate


def test_a_failing_solution_shows_each_counterexample(lab_copy):
    folder = lab_copy("static_flows")
    s3 = folder / "solution" / "flows" / "s3.flows"
    s3.write_text("\n".join(x for x in s3.read_text().splitlines() if "10.0.0.3" not in x) + "\n")
    report = validate(str(folder), mode="static")
    assert not report.ok and report.solution_percent < 100
    assert "h1-reaches-h3" in report.failing
    shown = "\n".join(report.problems)
    assert "solution fails h1-reaches-h3:" in shown
    assert "h1 -> h3: not delivered" in shown and "packet:" in shown and "blame: s3" in shown
    assert report.to_dict()["solution_failing"]["h1-reaches-h3"][0].startswith("h1 -> h3")


def test_an_isolation_check_without_requires_is_a_lab_problem(lab_copy):
    folder = lab_copy("static_flows")
    text = (folder / "lab.yaml").read_text()
    (folder / "lab.yaml").write_text(
        "\n".join(x for x in text.splitlines() if not x.startswith("    requires: h2-web-to-h3")) + "\n"
    )
    report = validate(str(folder), mode="static")
    assert any(
        p.endswith(
            "h2-no-telnet-h3: isolate holds even on a network that forwards nothing; "
            "add requires: <id of the reachability check it protects>"
        )
        for p in report.problems
    ), report.problems


def test_every_catalogue_lab_ties_its_vacuous_checks_to_reachability():
    from sdnlab.labs.loader import catalogue
    from sdnlab.labs.validate import check_vacuous

    for lab in catalogue():
        assert check_vacuous(lab) == [], lab.id
