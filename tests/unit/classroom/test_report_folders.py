"""A report leaves the server with no server folder in it: blamed rules, details and why a check
has no path name workspace files (``flows/s2.flows:3``), never where the server keeps them."""

from __future__ import annotations

from pathlib import Path

from sdnlab.classroom.runner import without_paths


def test_server_folders_are_cut_from_paths_details_and_no_path_reasons(tmp_path: Path):
    work = tmp_path / "work"
    report = {
        "checks": [
            {
                "id": "c",
                "details": [f"rule at {work}/flows/s2.flows:3"],
                "paths": [
                    {"src": "h1", "outcome": "dropped", "blame": {"where": f"{work}/flows/s2.flows:3"}}
                ],
                "no_path": f"see {work}/flows/s1.flows:1",
            },
            {"id": "d", "details": [], "paths": []},
        ],
        "notes": [],
    }
    clean = without_paths(report, [work])
    first, second = clean["checks"]
    assert first["details"] == ["rule at flows/s2.flows:3"]
    assert first["paths"][0]["blame"]["where"] == "flows/s2.flows:3"
    assert first["no_path"] == "see flows/s1.flows:1"
    assert "no_path" not in second and str(tmp_path) not in repr(clean)
