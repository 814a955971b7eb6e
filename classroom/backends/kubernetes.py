"""The ``kubernetes`` sandbox backend: one pod per trainee session, through the official Python client.

Pods are rendered by ``podspec.pod_manifest`` (the same container the ``container`` backend
runs) in the labs namespace, labelled ``sdnlab.io/owner`` (this server installation),
``sdnlab.io/sandbox`` and, when given, class/trainee/session. The server reaches a pod's agent
only through the API server's ``exec`` (RBAC ``pods/exec`` in the labs namespace): a short
relay inside the pod copies one request line to the agent's Unix socket and its answer back.
So sandbox pods need no open port at all, and the namespace's NetworkPolicy denies them all
ingress and egress (deploy/kubernetes/base/labs-namespace.yaml). Terminals are ``exec`` with
a TTY running the trainee shell (``tshell``), bridged to a local pseudo-terminal so the web
app sees the same file descriptor as with the other backends.

Time to live, three layers: the server stops idle sessions (``Classroom.reclaim_idle``);
``reap()`` (run periodically) deletes this owner's pods past their ``sdnlab.io/expires-at``
annotation or finished; and ``activeDeadlineSeconds`` on every pod makes the kubelet end it
even when no server runs at all. With ``owner_reference``, deleting the installation deletes
its pods through Kubernetes' garbage collector: owners must live in the pods' namespace (a
cross-namespace owner counts as absent and would get every pod collected at once), so the
owner is the ConfigMap ``sdnlab-sandbox-owner`` that deploy/kubernetes puts in the labs
namespace (``SDNLAB_K8S_OWNER_CONFIGMAP``), not the server's Deployment.

Warm pool (``warm_pool=N``): N pods started ahead with no sandbox; ``start`` claims a ready
one by a label patch guarded by its ``resourceVersion`` (two server replicas never claim the
same pod: the loser gets 409 and tries the next), and ``fill_pool()`` tops the pool up.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from sdnlab.classroom import podspec
from sdnlab.classroom.errors import Conflict, NotFound, SandboxError
from sdnlab.classroom.sandbox import ERROR_KINDS, SandboxBackend

POOL = f"{podspec.LABEL_PREFIX}/pool"
EXPIRES = f"{podspec.LABEL_PREFIX}/expires-at"
# runs inside the pod (image's Python): one request line to the agent, its answer line back
RELAY = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_UNIX)\n"
    f"s.connect({podspec.AGENT_SOCKET!r})\n"
    "s.sendall(sys.stdin.buffer.readline())\n"
    "b=b''\n"
    "while not b.endswith(b'\\n'):\n"
    "    c=s.recv(65536)\n"
    "    if not c: break\n"
    "    b+=c\n"
    "sys.stdout.buffer.write(b)\n"
)
RELAY_COMMAND = ["/opt/sdnlab/bin/python", "-c", RELAY]


def terminal_command(sandbox: str) -> list[str]:
    """The trainee shell of a sandbox, as the in-pod agent would start it."""
    work = f"{podspec.STATE_DIR}/work/{sandbox}"
    tshell = f"/opt/sdnlab/bin/python -m sdnlab.classroom.tshell --sandbox {sandbox} --workdir {work}"
    shell = f'cd "$HOME" && exec {tshell}'
    return [
        "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm-256color", "LANG=C.UTF-8",
        f"HOME={work}", f"SDNLAB_HOME={podspec.STATE_DIR}/home", f"SDNLAB_LAB={sandbox}",
        "/bin/sh", "-c", shell,
    ]  # fmt: skip


class PodExec(Protocol):
    """How the backend runs a command in a pod's sandbox container (the API's exec, or podman's)."""

    def run(self, pod: str, command: list[str], stdin: bytes, timeout: float) -> bytes:
        """Run ``command`` with ``stdin``; its standard output."""

    def tty(self, pod: str, command: list[str]) -> int:
        """Run ``command`` on a TTY; a local pseudo-terminal master descriptor bridged to it."""


def parse_answer(op: str, data: bytes) -> Any:
    """The result of an agent answer line, or the error class it names."""
    try:
        answer = json.loads(data or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise SandboxError(f"the sandbox agent gave no valid answer to {op!r}")
    if not answer.get("ok"):
        cls = ERROR_KINDS.get(str(answer.get("kind")), SandboxError)
        raise cls(str(answer.get("error") or f"{op} failed"))
    return answer.get("result")


class KubeExec:
    """``PodExec`` through the API server (``pods/exec``, the client's websocket stream)."""

    def __init__(self, core: Any, namespace: str, container: str = "sandbox"):
        self.core = core
        self.namespace = namespace
        self.container = container

    def _open(self, pod: str, command: list[str], tty: bool) -> Any:
        from kubernetes.stream import stream

        return stream(
            self.core.connect_get_namespaced_pod_exec, pod, self.namespace, container=self.container,
            command=command, stdin=True, stdout=True, stderr=True, tty=tty, _preload_content=False,
        )  # fmt: skip

    def run(self, pod: str, command: list[str], stdin: bytes, timeout: float) -> bytes:
        ws = self._open(pod, command, tty=False)
        out, err = [], []
        deadline = time.monotonic() + timeout
        try:
            ws.write_stdin(stdin.decode())
            while ws.is_open() and time.monotonic() < deadline:
                ws.update(timeout=1)
                if ws.peek_stdout():
                    out.append(ws.read_stdout())
                if ws.peek_stderr():
                    err.append(ws.read_stderr())
        finally:
            ws.close()
        if not out and err:
            raise SandboxError(f"exec in pod {pod}: {''.join(err).strip().splitlines()[-1][:300]}")
        return "".join(out).encode()

    def tty(self, pod: str, command: list[str]) -> int:
        ws = self._open(pod, command, tty=True)
        return bridge_pty(
            send=ws.write_stdin, resize=lambda cols, rows: ws.write_channel(4, json.dumps(
                {"Width": cols, "Height": rows})),
            receive=lambda: _ws_receive(ws), close=ws.close,
        )  # fmt: skip


def _ws_receive(ws: Any) -> bytes | None:
    if not ws.is_open():
        return None
    ws.update(timeout=0.2)
    return (ws.read_stdout() if ws.peek_stdout() else "").encode()


def bridge_pty(
    send: Callable[[str], Any],
    resize: Callable[[int, int], Any],
    receive: Callable[[], bytes | None],
    close: Callable[[], Any],
) -> int:
    """A local pseudo-terminal whose slave side is copied to/from a remote TTY; returns the master.

    The web app writes to the master and sets its window size; a thread forwards keystrokes
    (read from the slave, raw mode), window size changes and the remote output.
    """
    import fcntl
    import termios
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)

    def pump() -> None:
        size = b""
        try:
            while True:
                now = fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8)
                if now != size:
                    size = now
                    rows, cols = struct.unpack("HHHH", now)[:2]
                    if rows and cols:
                        resize(cols, rows)
                ready, _, _ = select.select([slave], [], [], 0)
                if ready:
                    data = os.read(slave, 65536)
                    if not data:
                        break
                    send(data.decode(errors="replace"))
                remote = receive()
                if remote is None:
                    break
                if remote:
                    os.write(slave, remote)
        except OSError:
            pass
        finally:
            close()
            os.close(slave)  # the web app reads end-of-file on the master

    threading.Thread(target=pump, daemon=True).start()
    return master


class KubernetesBackend(SandboxBackend):
    """Sandboxes as pods in one namespace of a Kubernetes cluster."""

    kind = "kubernetes"
    has_terminal = True

    def __init__(
        self,
        core: Any,
        namespace: str = "sdnlab-labs",
        owner: str = "sdnlab",
        spec: podspec.SandboxSpec | None = None,
        ttl_s: int = 4 * 3600,
        warm_pool: int = 0,
        pod_exec: PodExec | None = None,
        owner_reference: dict | None = None,
        node_selector: dict | None = None,
        ready_timeout: float = 120.0,
        call_timeout: float = 300.0,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ):
        self.core = core
        self.namespace = namespace
        self.owner = owner
        self.spec = spec or podspec.SandboxSpec()
        self.ttl_s = ttl_s
        self.warm_pool = warm_pool
        self.pod_exec: PodExec = pod_exec or KubeExec(core, namespace)
        self.owner_reference = owner_reference
        self.node_selector = node_selector
        self.ready_timeout = ready_timeout
        self.call_timeout = call_timeout
        self.poll_s = poll_s
        self.clock = clock

    # -- the API -----------------------------------------------------------------------------
    def _selector(self, *extra: str) -> str:
        return ",".join([f"{podspec.LABEL_PREFIX}/owner={self.owner}", *extra])

    def _pods(self, *extra: str) -> list[Any]:
        return list(
            self.core.list_namespaced_pod(self.namespace, label_selector=self._selector(*extra)).items
        )

    def _pod_of(self, sandbox: str) -> str:
        pods = [p for p in self._pods(f"{podspec.LABEL_PREFIX}/sandbox={sandbox}") if not _deleting(p)]
        if not pods:
            raise NotFound(f"no sandbox {sandbox!r}")
        return pods[0].metadata.name

    def _manifest(self, name: str, labels: dict) -> dict:
        pod = podspec.pod_manifest(
            self.spec, "x", labels, namespace=self.namespace, ttl_s=self.ttl_s,
            node_selector=self.node_selector, owner=self.owner_reference,
        )  # fmt: skip
        pod["metadata"]["name"] = name
        pod["metadata"]["annotations"] = {EXPIRES: str(int(self.clock() + self.ttl_s))}
        return pod

    def _call(self, pod: str, op: str, **args: Any) -> Any:
        line = json.dumps({"op": op, **args}).encode() + b"\n"
        return parse_answer(op, self.pod_exec.run(pod, RELAY_COMMAND, line, self.call_timeout))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        from kubernetes.client.exceptions import ApiException

        if self._pods(f"{podspec.LABEL_PREFIX}/sandbox={sandbox}"):
            raise Conflict(f"sandbox {sandbox!r} exists already")
        labels = podspec.labels(sandbox, self.owner, class_name, trainee, session)
        pod = self._claim_warm(labels)
        if pod is None:
            pod = podspec.dns_name(sandbox)
            try:
                self.core.create_namespaced_pod(self.namespace, self._manifest(pod, labels))
            except ApiException as exc:
                if exc.status == 409:
                    raise Conflict(f"sandbox {sandbox!r} exists already") from None
                raise SandboxError(f"the cluster refused the sandbox pod: {_reason(exc)}") from None
        try:
            self._wait_ready(pod)
            status = self._call(
                pod, "start", sandbox=sandbox, lab=lab_id, **({} if seed is None else {"seed": seed})
            )
        except BaseException:
            self._delete(pod)
            raise
        return {**status, "backend": self.kind, "pod": pod}

    def _claim_warm(self, labels: dict) -> str | None:
        """Take a ready warm pod for ``labels`` (optimistic concurrency); None if there is none."""
        from kubernetes.client.exceptions import ApiException

        for pod in self._pods(f"{POOL}=warm"):
            if _deleting(pod) or not _ready(pod):
                continue
            patch = {
                "metadata": {
                    "resourceVersion": pod.metadata.resource_version,
                    "labels": {**labels, POOL: "claimed"},
                    "annotations": {EXPIRES: str(int(self.clock() + self.ttl_s))},
                }
            }
            try:
                self.core.patch_namespaced_pod(pod.metadata.name, self.namespace, patch)
            except ApiException as exc:
                if exc.status in (404, 409):  # another replica claimed or removed it first
                    continue
                raise SandboxError(f"claiming a warm sandbox failed: {_reason(exc)}") from None
            return pod.metadata.name
        return None

    def fill_pool(self) -> list[str]:
        """Start warm pods until the pool holds ``warm_pool`` of them; the names created."""
        have = [p for p in self._pods(f"{POOL}=warm") if not _deleting(p)]
        created = []
        for _ in range(self.warm_pool - len(have)):
            name = "sdnlab-warm-" + secrets.token_hex(4)
            labels = {
                **podspec.labels("", self.owner),
                POOL: "warm",
            }
            labels.pop(f"{podspec.LABEL_PREFIX}/sandbox", None)
            self.core.create_namespaced_pod(self.namespace, self._manifest(name, labels))
            created.append(name)
        return created

    def _wait_ready(self, pod: str) -> None:
        """Until the pod runs and its agent answers; ``SandboxError`` if it fails or takes too long."""
        started = time.monotonic()
        while time.monotonic() - started < self.ready_timeout:
            info = self.core.read_namespaced_pod(pod, self.namespace)
            phase = info.status.phase if info.status else None
            if phase in ("Failed", "Succeeded"):
                reason = (info.status.reason or info.status.message or phase) if info.status else phase
                raise SandboxError(f"the sandbox pod {pod} ended while starting: {reason}")
            if phase == "Running":
                try:
                    self._call(pod, "sandboxes")
                    return
                except SandboxError:
                    pass
            time.sleep(self.poll_s)
        raise SandboxError(f"the sandbox pod {pod} was not ready within {self.ready_timeout:g} s")

    def _delete(self, pod: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespaced_pod(pod, self.namespace, grace_period_seconds=5)
        except ApiException as exc:
            if exc.status != 404:
                raise SandboxError(f"deleting pod {pod} failed: {_reason(exc)}") from None

    def stop(self, sandbox: str) -> None:
        for pod in self._pods(f"{podspec.LABEL_PREFIX}/sandbox={sandbox}"):
            self._delete(pod.metadata.name)

    def sandboxes(self) -> list[str]:
        key = f"{podspec.LABEL_PREFIX}/sandbox"
        return sorted({p.metadata.labels[key] for p in self._pods(key) if not _deleting(p)})

    def reap(self, now: float | None = None) -> list[str]:
        """Delete this owner's pods past their expiry or finished (the cleanup loop); their names."""
        now = self.clock() if now is None else now
        gone = []
        for pod in self._pods():
            if _deleting(pod):
                continue
            expires = (pod.metadata.annotations or {}).get(EXPIRES, "")
            phase = pod.status.phase if pod.status else None
            if (expires.isdigit() and int(expires) < now) or phase in ("Failed", "Succeeded"):
                self._delete(pod.metadata.name)
                gone.append(pod.metadata.name)
        return gone

    def status(self, sandbox: str) -> dict:
        pod = self._pod_of(sandbox)
        return {**self._call(pod, "status", sandbox=sandbox), "backend": self.kind, "pod": pod}

    # -- forwarded to the pod's agent --------------------------------------------------------
    def list_files(self, sandbox: str) -> list[dict]:
        return self._call(self._pod_of(sandbox), "list_files", sandbox=sandbox)

    def read_file(self, sandbox: str, path: str) -> str:
        return self._call(self._pod_of(sandbox), "read_file", sandbox=sandbox, path=path)

    def write_file(self, sandbox: str, path: str, text: str) -> None:
        self._call(self._pod_of(sandbox), "write_file", sandbox=sandbox, path=path, text=text)

    def deploy(self, sandbox: str) -> dict:
        return {**self._call(self._pod_of(sandbox), "deploy", sandbox=sandbox), "backend": self.kind}

    def reset(self, sandbox: str) -> dict:
        return {**self._call(self._pod_of(sandbox), "reset", sandbox=sandbox), "backend": self.kind}

    def grade(
        self,
        sandbox: str,
        include_hidden: bool,
        hidden: str | None = None,
        scenarios: list | None = None,
        replay: bool = False,
    ) -> dict:
        extra: dict = {} if scenarios is None else {"scenarios": scenarios}
        if replay:
            extra["replay"] = True
        return self._call(
            self._pod_of(sandbox),
            "grade",
            sandbox=sandbox,
            include_hidden=include_hidden,
            hidden=hidden,
            **extra,
        )

    def tables(self, sandbox: str) -> dict[str, str]:
        return dict(self._call(self._pod_of(sandbox), "tables", sandbox=sandbox))

    def terminal(self, sandbox: str) -> int:
        return self.pod_exec.tty(self._pod_of(sandbox), terminal_command(sandbox))


def _deleting(pod: Any) -> bool:
    return pod.metadata.deletion_timestamp is not None


def _ready(pod: Any) -> bool:
    conditions = (pod.status.conditions or []) if pod.status else []
    return (
        pod.status is not None
        and pod.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in conditions)
    )


def _reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.reason))[:300]
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)[:300]


def from_environment(env: dict[str, str] | None = None) -> KubernetesBackend:
    """The backend configured by ``SDNLAB_K8S_*`` variables (as the Deployment sets them).

    Credentials: the pod's service account inside a cluster, ``$KUBECONFIG`` outside.
    ``SDNLAB_K8S_NAMESPACE`` (sdnlab-labs), ``SDNLAB_K8S_OWNER`` (sdnlab), ``SDNLAB_SANDBOX_IMAGE``,
    ``SDNLAB_K8S_TTL_S`` (14400), ``SDNLAB_K8S_WARM_POOL`` (0), ``SDNLAB_K8S_NODE_LABEL``
    (``key=value`` of the nodes that allow the sandbox capabilities, none by default).
    """
    from kubernetes import client, config

    env = dict(os.environ if env is None else env)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    image = env.get("SDNLAB_SANDBOX_IMAGE")
    node = env.get("SDNLAB_K8S_NODE_LABEL", "")
    core = client.CoreV1Api()
    namespace = env.get("SDNLAB_K8S_NAMESPACE", "sdnlab-labs")
    owner_map = env.get("SDNLAB_K8S_OWNER_CONFIGMAP")
    return KubernetesBackend(
        core,
        namespace=namespace,
        owner_reference=configmap_owner(core, namespace, owner_map) if owner_map else None,
        owner=env.get("SDNLAB_K8S_OWNER", "sdnlab"),
        spec=podspec.SandboxSpec(image=image) if image else None,
        ttl_s=int(env.get("SDNLAB_K8S_TTL_S", "14400")),
        warm_pool=int(env.get("SDNLAB_K8S_WARM_POOL", "0")),
        node_selector=dict([node.split("=", 1)]) if "=" in node else None,
    )


def configmap_owner(core: Any, namespace: str, name: str) -> dict:
    """An ownerReference to the ConfigMap ``name`` in the labs namespace (read for its uid)."""
    from kubernetes.client.exceptions import ApiException

    try:
        found = core.read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        raise SandboxError(f"the owner ConfigMap {namespace}/{name} cannot be read: {_reason(exc)}") from None
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": found.metadata.uid}


def start_maintenance(backend: KubernetesBackend, interval_s: float = 30.0) -> threading.Thread:
    """A daemon thread that reaps expired pods and refills the warm pool every ``interval_s``."""
    import logging

    log = logging.getLogger("sdnlab.classroom.kubernetes")

    def loop() -> None:
        while True:
            try:
                reaped = backend.reap()
                started = backend.fill_pool()
                if reaped or started:
                    log.info("reaped %s, warm pods started %s", reaped, started)
            except Exception:  # the API server may be briefly away: try again next round
                log.exception("kubernetes maintenance round failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=loop, name="sdnlab-k8s-maintenance", daemon=True)
    thread.start()
    return thread
