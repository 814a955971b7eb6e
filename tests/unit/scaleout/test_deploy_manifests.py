"""deploy/kubernetes: every overlay renders with ``kubectl kustomize`` and every manifest validates
offline against the Kubernetes schemas (``kubernetes-validate``, strict: unknown fields fail).

Also checks the properties the scale-out design relies on: the server is non-root with a
read-only root file system and no capabilities, its RBAC reaches only pods, pods/exec and
services in the labs namespace, sandboxes are isolated by a deny-all NetworkPolicy, and the
admission policy admits exactly the capabilities of ``podspec``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sdnlab.classroom import podspec

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
K8S_VERSION = "1.30.0"


def render(overlay: str) -> list[dict]:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed (its built-in kustomize renders the overlays)")
    done = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(docs: list[dict], kind: str, name: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_there_are_overlays_for_a_small_and_a_large_installation():
    assert {"dev", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(overlay):
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    docs = render(overlay)
    assert len(docs) >= 12
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_server_runs_non_root_read_only_without_capabilities_and_probes(overlay):
    docs = render(overlay)
    deployment = find(docs, "Deployment", "sdnlab-server")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["serviceAccountName"] == "sdnlab-server"
    for container in pod["containers"] + pod.get("initContainers", []):
        security = container["securityContext"]
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"] and container["resources"]["limits"]
    [server] = pod["containers"]
    assert {"readinessProbe", "livenessProbe"} <= set(server)
    # the server image (tools/image/build.sh --server: it holds the Chromium that prints certificates),
    # not the sandbox image, which the server names for the sandbox pods it creates
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["image"].rsplit("/", 1)[-1].startswith("sdnlab-server:"), container["image"]
    sandbox_image = {e["name"]: e.get("value") for e in server["env"]}["SDNLAB_SANDBOX_IMAGE"]
    assert sandbox_image.rsplit("/", 1)[-1].startswith("sdnlab-sandbox:")
    assert "--backend" in server["command"] and "kubernetes" in server["command"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    env = {e["name"]: e for e in server["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"].startswith("sdnlab-secrets")
    assert find(docs, "PodDisruptionBudget", "sdnlab-server")["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "sdnlab-server"
    }
    ingress = find(docs, "Ingress", "sdnlab-server")
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_instructor_data_comes_from_an_optional_secret_into_the_server_only_read_only(overlay):
    pod = find(render(overlay), "Deployment", "sdnlab-server")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    archive = volumes["instructor-archive"]["secret"]
    assert archive["secretName"] == "sdnlab-instructor" and archive["optional"] is True  # public checks only
    assert "emptyDir" in volumes["instructor"]  # unpacked per pod, gone with it
    [server] = pod["containers"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    [mount] = [m for m in server["volumeMounts"] if m["name"] == "instructor"]
    assert mount["readOnly"] is True and env["SDNLAB_INSTRUCTOR_DIR"].startswith(mount["mountPath"] + "/")
    assert not [m for m in server["volumeMounts"] if m["name"] == "instructor-archive"]
    writers = [
        c["name"]
        for c in pod["initContainers"]
        for m in c["volumeMounts"]
        if m["name"] == "instructor" and not m.get("readOnly")
    ]
    assert writers == ["instructor-data"]
    sandbox = podspec.pod_manifest(podspec.SandboxSpec(), "s1", podspec.labels("s1", "sdnlab"))
    assert "instructor" not in yaml.safe_dump(sandbox)  # a trainee's pod never sees it


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_reaches_only_pods_exec_services_and_the_owner_map_in_the_labs_namespace(overlay):
    docs = render(overlay)
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    [role] = [d for d in docs if d["kind"] == "Role"]
    assert role["metadata"]["namespace"] == "sdnlab-labs"
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"pods", "pods/exec", "services", "configmaps"}
    [configmaps] = [rule for rule in role["rules"] if rule["resources"] == ["configmaps"]]
    assert configmaps["resourceNames"] == ["sdnlab-sandbox-owner"] and configmaps["verbs"] == ["get"]
    assert find(docs, "ConfigMap", "sdnlab-sandbox-owner")["metadata"]["namespace"] == "sdnlab-labs"
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    [binding] = [d for d in docs if d["kind"] == "RoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sdnlab-server", "namespace": "sdnlab"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sandboxes_are_isolated_sized_and_admitted_only_in_the_spec_shape(overlay):
    docs = render(overlay)
    policy = find(docs, "NetworkPolicy", "sandboxes-isolated")
    assert policy["spec"]["podSelector"] == {} and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []
    limits = find(docs, "LimitRange", "sandbox-size")["spec"]["limits"][0]
    resources = podspec.SandboxSpec().resources
    assert limits["defaultRequest"] == {"cpu": resources.cpu_request, "memory": resources.memory_request}
    assert limits["default"] == {"cpu": resources.cpu_limit, "memory": resources.memory_limit}
    assert int(find(docs, "ResourceQuota", "sandboxes")["spec"]["hard"]["pods"]) > 0
    admission = find(docs, "ValidatingAdmissionPolicy", "sdnlab-sandbox-shape")
    text = yaml.safe_dump(admission)
    for cap in podspec.CAPABILITIES:
        assert f"'{cap}'" in text
    labs = find(docs, "Namespace", "sdnlab-labs")
    assert labs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert (
        find(docs, "Namespace", "sdnlab")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )


def test_dev_runs_postgres_in_the_cluster_and_production_points_at_its_own_registry():
    dev, prod = render("dev"), render("production")
    assert find(dev, "StatefulSet", "sdnlab-postgres")["spec"]["volumeClaimTemplates"]
    assert not [d for d in prod if d["kind"] in ("StatefulSet", "Secret")], (
        "production: external DB, own Secret"
    )
    server = find(prod, "Deployment", "sdnlab-server")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert (
        env["SDNLAB_SANDBOX_IMAGE"].startswith("registry.example.org/")
        and env["SDNLAB_K8S_WARM_POOL"] == "20"
    )
    assert server["image"].startswith("registry.example.org/")
    assert find(prod, "Deployment", "sdnlab-server")["spec"]["replicas"] == 3


def _admits(policy: dict, pod: dict) -> list[str]:
    """The messages of the policy's validations that refuse ``pod`` (CEL evaluated by cel-python)."""
    celpy = pytest.importorskip("celpy", reason="pip install cel-python (evaluates the policy's CEL)")
    env = celpy.Environment()
    refused = []
    for rule in policy["spec"]["validations"]:
        program = env.program(env.compile(rule["expression"]))
        if not program.evaluate({"object": celpy.json_to_cel(pod)}):
            refused.append(rule["message"])
    return refused


def _mutated(change) -> dict:
    pod = podspec.pod_manifest(podspec.SandboxSpec(), "cr7", podspec.labels("cr7", "srv1"), ttl_s=60)
    change(pod)
    return pod


def _container(pod: dict) -> dict:
    return pod["spec"]["containers"][0]


BAD_PODS = {
    "privileged": lambda p: _container(p)["securityContext"].update(privileged=True),
    "an extra capability": lambda p: _container(p)["securityContext"]["capabilities"]["add"].append(
        "SYS_MODULE"
    ),
    "no drop ALL": lambda p: _container(p)["securityContext"]["capabilities"].update(drop=[]),
    "host network": lambda p: p["spec"].update(hostNetwork=True),
    "host PID": lambda p: p["spec"].update(hostPID=True),
    "a host path": lambda p: p["spec"]["volumes"].append({"name": "etc", "hostPath": {"path": "/etc"}}),
    "a token": lambda p: p["spec"].update(automountServiceAccountToken=True),
    "an init container": lambda p: p["spec"].update(initContainers=[dict(_container(p), name="x")]),
}


def test_the_admission_policy_admits_the_sandbox_pod_and_refuses_every_other_shape():
    policy = find(render("dev"), "ValidatingAdmissionPolicy", "sdnlab-sandbox-shape")
    assert _admits(policy, _mutated(lambda p: None)) == []
    for what, change in BAD_PODS.items():
        assert _admits(policy, _mutated(change)), f"a sandbox pod with {what} was admitted"
