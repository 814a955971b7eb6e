"""One specification of a lab sandbox, rendered for podman (``podman run``) and Kubernetes (a Pod).

A sandbox is one container of the ``sdnlab-sandbox`` image (tools/image/build.sh) running its
own Open vSwitch (userspace datapath) and the classroom agent (``sdnlab.classroom.agent``)
on a Unix socket in ``/run/sdnlab-agent``. Both renderings below come from the same
``SandboxSpec``: the capabilities, the resources, the labels and the start command, so the
pod the Kubernetes backend creates is the container the ``container`` backend runs, and a
test runs the rendered Pod with ``podman kube play``.

Capabilities (all others dropped; measured on lab 3 by dropping one at a time, see
docs/scale-out.md): NET_ADMIN (network namespaces' links, veth pairs, addresses, routes, tc,
OVS ports), SYS_ADMIN (``ip netns``/``unshare``/``setns`` and the mounts Mininet's hosts make),
NET_RAW (raw sockets: ping, the grader's probes, OVS's packet sockets on the userspace
datapath), SYS_CHROOT (``mnexec -a`` enters a host's namespaces with ``setns``, which the
kernel guards with CAP_SYS_CHROOT for the mount namespace). Not privileged; no host network.
The userspace datapath also needs ``/dev/net/tun`` (tap devices for bridge-internal ports).

This module is pure: it returns argument lists and dictionaries, nothing runs here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sdnlab.classroom.errors import ClassroomError

CAPABILITIES: dict[str, str] = {
    "NET_ADMIN": "links, veth pairs, addresses, routes, qdiscs and OVS ports in the lab's namespaces",
    "SYS_ADMIN": "creating and entering network and mount namespaces (ip netns, unshare, setns)",
    "NET_RAW": "raw and packet sockets: ping, the grader's probes, OVS's userspace datapath",
    "SYS_CHROOT": "mnexec -a: setns into a host's mount namespace needs CAP_SYS_CHROOT",
}
AGENT_DIR = "/run/sdnlab-agent"
AGENT_SOCKET = f"{AGENT_DIR}/agent.sock"
STATE_DIR = "/var/lib/sdnlab"
TUN = "/dev/net/tun"
LABEL_PREFIX = "sdnlab.io"
# what the image runs: its own OVS, then the agent (PID 1 after exec, stops on SIGTERM)
START_SCRIPT = (
    "/usr/share/openvswitch/scripts/ovs-ctl start --no-monitor --system-id=random >/tmp/ovs-start.log 2>&1"
    " || { cat /tmp/ovs-start.log >&2; exit 70; }; "
    f"exec /opt/sdnlab/bin/python -m sdnlab.classroom.agent --state {STATE_DIR} --socket {AGENT_SOCKET}"
)
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one sandbox (Kubernetes quantities).

    Measured on lab 3 (bench/results/scaleout-measure.json): 102 MiB resident, 0.002 cores at
    rest; a start keeps about one core busy for 2.5 s and a check for 0.4 s. The request is
    what a sandbox needs on average over a class (bursts share the node), the limit its burst.
    """

    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"
    pids_limit: int = 1024

    def to_kubernetes(self) -> dict:
        """The container's ``resources`` block."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class SandboxSpec:
    """Everything about a sandbox container that does not depend on who runs it."""

    image: str = "localhost/sdnlab-sandbox:0.1.0"
    capabilities: tuple[str, ...] = tuple(CAPABILITIES)
    resources: Resources = field(default_factory=Resources)
    ulimits: tuple[tuple[str, int], ...] = (("nofile", 16384), ("nproc", 32768))

    def command(self) -> list[str]:
        """The container's command: start OVS, then run the agent."""
        return ["/bin/sh", "-c", START_SCRIPT]


def dns_name(sandbox: str) -> str:
    """The container/pod name of a sandbox: ``sdnlab-<sandbox>`` lowercased, a DNS label."""
    name = "sdnlab-" + sandbox.lower().replace("_", "-").replace(".", "-")
    if not _DNS_LABEL.match(name):
        raise ClassroomError(f"sandbox {sandbox!r}: cannot be named as a container or pod")
    return name


def labels(sandbox: str, owner: str, class_name: str = "", trainee: str = "", session: str = "") -> dict:
    """The labels every sandbox carries: role, owner (which server), sandbox, class, trainee, session."""
    values = {
        "app.kubernetes.io/name": "sdnlab-sandbox",
        "app.kubernetes.io/part-of": "sdnlab",
        f"{LABEL_PREFIX}/owner": owner,
        f"{LABEL_PREFIX}/sandbox": sandbox,
        f"{LABEL_PREFIX}/class": class_name,
        f"{LABEL_PREFIX}/trainee": trainee,
        f"{LABEL_PREFIX}/session": session,
    }
    for key in (f"{LABEL_PREFIX}/class", f"{LABEL_PREFIX}/trainee", f"{LABEL_PREFIX}/session"):
        values[key] = label_value(values[key])  # people's names: made to fit, never refused
    for key, value in values.items():
        if value and not _LABEL_VALUE.match(value):
            raise ClassroomError(f"label {key}={value!r}: not a valid label value")
    return {k: v for k, v in values.items() if v}


def label_value(text: str) -> str:
    """``text`` as a label value: letters, digits, ``-_.`` only, at most 63, alphanumeric ends."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def podman_run_args(
    spec: SandboxSpec, sandbox: str, agent_dir: str, sandbox_labels: dict, runtime: str | None = None
) -> list[str]:
    """``podman run`` arguments (after ``podman``) for a detached sandbox container."""
    args = ["run", "--detach", "--name", dns_name(sandbox), "--hostname", dns_name(sandbox)]
    if runtime:
        args += ["--runtime", runtime]
    args += ["--network", "none", "--cap-drop", "all"]
    for cap in spec.capabilities:
        args += ["--cap-add", cap]
    args += ["--device", TUN, "--pids-limit", str(spec.resources.pids_limit)]
    for name, value in spec.ulimits:
        args += ["--ulimit", f"{name}={value}:{value}"]
    for key, value in sorted(sandbox_labels.items()):
        args += ["--label", f"{key}={value}"]
    args += ["--volume", f"{agent_dir}:{AGENT_DIR}:rw", "--stop-timeout", "5"]
    return [*args, spec.image, *spec.command()]


def pod_manifest(
    spec: SandboxSpec,
    sandbox: str,
    sandbox_labels: dict,
    namespace: str = "sdnlab-labs",
    ttl_s: int | None = None,
    agent_host_dir: str | None = None,
    node_selector: dict | None = None,
    owner: dict | None = None,
) -> dict:
    """The Kubernetes Pod of a sandbox.

    ``ttl_s`` becomes ``activeDeadlineSeconds`` (the kubelet ends the pod even if the server is
    gone); ``agent_host_dir`` mounts a host folder as the agent's socket folder (local runs with
    ``podman kube play``), otherwise it is an ``emptyDir``; ``owner`` is an ownerReference (the
    server's Deployment) so that deleting the server deletes its sandboxes.
    """
    agent_volume: dict = (
        {"name": "agent", "hostPath": {"path": agent_host_dir, "type": "Directory"}}
        if agent_host_dir
        else {"name": "agent", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
    )
    container = {
        "name": "sandbox",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": spec.command(),
        "securityContext": {
            "privileged": False,
            "runAsUser": 0,
            "capabilities": {"drop": ["ALL"], "add": list(spec.capabilities)},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": spec.resources.to_kubernetes(),
        "volumeMounts": [
            {"name": "agent", "mountPath": AGENT_DIR},
            {"name": "tun", "mountPath": TUN},
        ],
        # ready once the agent answers on its socket (it starts after OVS)
        "readinessProbe": {
            "exec": {"command": ["/bin/sh", "-c", f"test -S {AGENT_SOCKET}"]},
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
    }
    pod_spec: dict = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "containers": [container],
        "volumes": [agent_volume, {"name": "tun", "hostPath": {"path": TUN, "type": "CharDevice"}}],
    }
    if ttl_s is not None:
        pod_spec["activeDeadlineSeconds"] = int(ttl_s)
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
        pod_spec["tolerations"] = [
            {"key": f"{LABEL_PREFIX}/sandboxes", "operator": "Exists", "effect": "NoSchedule"}
        ]
    metadata: dict = {"name": dns_name(sandbox), "namespace": namespace, "labels": dict(sandbox_labels)}
    if owner:
        metadata["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}
