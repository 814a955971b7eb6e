"""The sandbox specification renders the same container for podman and for Kubernetes."""

from __future__ import annotations

import pytest

from sdnlab.classroom import podspec
from sdnlab.classroom.errors import ClassroomError

SPEC = podspec.SandboxSpec()
LABELS = podspec.labels("cr12", "s0123", class_name="net-101", trainee="ann", session="42")


def test_capabilities_are_the_four_measured_ones_each_with_a_reason():
    assert set(SPEC.capabilities) == {"NET_ADMIN", "SYS_ADMIN", "NET_RAW", "SYS_CHROOT"}
    assert all(podspec.CAPABILITIES[c] for c in SPEC.capabilities)


def test_podman_run_drops_all_capabilities_then_adds_only_the_spec_ones_without_network():
    args = podspec.podman_run_args(SPEC, "cr12", "/srv/agents/cr12", LABELS, runtime="runc")
    added = [args[i + 1] for i, a in enumerate(args) if a == "--cap-add"]
    assert args[args.index("--cap-drop") + 1] == "all" and added == list(SPEC.capabilities)
    assert args.index("--cap-drop") < args.index("--cap-add")
    assert args[args.index("--network") + 1] == "none"
    assert "--privileged" not in args and "--net=host" not in args
    volumes = [args[i + 1] for i, a in enumerate(args) if a in ("--volume", "-v")]
    assert volumes == [f"/srv/agents/cr12:{podspec.AGENT_DIR}:rw"], "the socket folder is the only host path"
    assert args[args.index("--runtime") + 1] == "runc"
    assert "--ulimit" in args and "nproc=32768:32768" in args
    assert args[-3:] == SPEC.command() and args[-4] == SPEC.image
    assert f"{podspec.LABEL_PREFIX}/trainee=ann" in args


def test_pod_manifest_has_the_same_capabilities_labels_resources_and_a_deadline():
    pod = podspec.pod_manifest(SPEC, "cr12", LABELS, namespace="labs", ttl_s=7200)
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "sdnlab-cr12"
    assert pod["metadata"]["namespace"] == "labs"
    assert pod["metadata"]["labels"][f"{podspec.LABEL_PREFIX}/class"] == "net-101"
    [container] = pod["spec"]["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": list(SPEC.capabilities)}
    assert security["privileged"] is False
    assert container["command"] == SPEC.command()
    assert container["resources"]["requests"]["memory"] == SPEC.resources.memory_request
    assert pod["spec"]["activeDeadlineSeconds"] == 7200
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert "hostNetwork" not in pod["spec"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["agent"] == {"name": "agent", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
    assert volumes["tun"]["hostPath"] == {"path": "/dev/net/tun", "type": "CharDevice"}


def test_pod_manifest_for_podman_kube_play_mounts_the_agent_folder_and_takes_an_owner():
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sdnlab-server", "uid": "u-1"}
    pod = podspec.pod_manifest(SPEC, "cr12", LABELS, agent_host_dir="/srv/a", owner=owner,
                               node_selector={"sdnlab.io/sandboxes": "true"})  # fmt: skip
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["agent"]["hostPath"] == {"path": "/srv/a", "type": "Directory"}
    assert pod["metadata"]["ownerReferences"] == [owner]
    assert pod["spec"]["nodeSelector"] == {"sdnlab.io/sandboxes": "true"}
    assert pod["spec"]["tolerations"][0]["key"] == "sdnlab.io/sandboxes"


@pytest.mark.parametrize(("sandbox", "name"), [("cr_12", "sdnlab-cr-12"), ("CR12", "sdnlab-cr12"),
                                               ("cr.12", "sdnlab-cr-12")])  # fmt: skip
def test_sandbox_names_become_dns_labels(sandbox, name):
    assert podspec.dns_name(sandbox) == name


@pytest.mark.parametrize("bad", ["", "x" * 70, "a/b", "x!"])
def test_names_that_cannot_be_a_pod_are_refused_with_a_one_line_error(bad):
    with pytest.raises(ClassroomError, match="cannot be named"):
        podspec.dns_name(bad)


def test_label_values_are_checked_and_peoples_names_made_to_fit():
    with pytest.raises(ClassroomError, match="owner"):
        podspec.labels("cr1", "bad owner!")
    made = podspec.labels("cr1", "s1", class_name="Net 1 (spring)", trainee="ann smith", session="7")
    assert made[f"{podspec.LABEL_PREFIX}/class"] == "Net-1-spring"
    assert made[f"{podspec.LABEL_PREFIX}/trainee"] == "ann-smith"
    assert podspec.label_value("x" * 80 + "!") == "x" * 63
    assert f"{podspec.LABEL_PREFIX}/class" not in podspec.labels("cr1", "s1")
