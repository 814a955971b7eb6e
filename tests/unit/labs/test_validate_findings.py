"""``lab validate`` shows why a solution fails and which checks hold vacuously (issue 11 items 3 and 9)."""

from __future__ import annotations

from sdnlab.labs.validate import validate


def test_a_failing_solution_shows_each_counterexample(lab_copy):
    folder = lab_copy("static_flows")
    s3 = folder.parent / "instructor" / folder.name / "solution" / "flows" / "s3.flows"
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


def test_a_description_that_claims_more_than_the_check_is_a_lab_problem(lab_copy):
    folder = lab_copy("static_flows")
    text = (folder / "lab.yaml").read_text()
    text = text.replace(
        "    ping: {src: h2, dst: [h1, h3]}", "    reach: {src: h2, dst: [h1, h3], traffic: icmp}"
    )
    (folder / "lab.yaml").write_text(text)
    problems = validate(str(folder), mode="static").problems
    assert any("h2-pings-everyone: the description claims a ping" in p for p in problems), problems
    assert any("h2-pings-everyone: the description mentions ARP" in p for p in problems), problems


def test_every_catalogue_lab_says_what_its_checks_check():
    from sdnlab.labs.loader import catalogue
    from sdnlab.labs.validate import check_descriptions

    for lab in catalogue():
        assert check_descriptions(lab) == [], lab.id


def test_every_catalogue_lab_ties_its_vacuous_checks_to_reachability():
    from sdnlab.labs.loader import catalogue
    from sdnlab.labs.validate import check_vacuous

    for lab in catalogue():
        assert check_vacuous(lab) == [], lab.id
