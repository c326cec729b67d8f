"""The Helm chart, rendered by the real helm and checked offline.

Needs `.tools/bin/helm` (scripts/install-tools.sh) and kubernetes-validate in the venv.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streamhook import __version__, config
from tests.chart._helm import (
    CHART,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    ROOT,
    Manifest,
    Rendered,
    ci_value_files,
    render,
    render_error,
    run_helm,
    walk,
)
from tests.chart._kube import materialise_pod_files, validate_object

CHECK_CONFIG_TIMEOUT_SECONDS = 60
VALUE_SETS = {"default": None} | {path.stem: path for path in ci_value_files()}
GLOBAL_NAME = f"{NAMESPACE}-{FULLNAME}"
SECRETS_DIR = "/etc/streamhook/secrets"

# The grants issue 4 names for each target namespace, with every feature on.
IMAGESTREAM_GRANTS = {
    ("image.openshift.io", "imagestreammappings", "create"),
    ("image.openshift.io", "imagestreams", "get"),
    ("image.openshift.io", "imagestreams", "create"),
    ("", "events", "create"),
    ("", "events", "patch"),
}
IMAGES_GRANTS = {
    ("image.openshift.io", "images", "create"),
    ("image.openshift.io", "images", "get"),
}

# Volume types the restricted-v2 SCC admits.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def ci_file(name: str) -> Path:
    path = VALUE_SETS[name]
    assert path is not None, name
    return path


def rendered_set(name: str) -> Rendered:
    path = VALUE_SETS[name]
    return render(path) if path is not None else render()


def values_of(name: str) -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    path = VALUE_SETS[name]
    overrides = yaml.safe_load(path.read_text()) if path is not None else {}
    return _merge(defaults, overrides)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def grants(rules: list[Manifest]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def pods(rendered: Rendered) -> list[tuple[str, Manifest]]:
    """(name, pod spec) of the Deployment's pod and of the helm test pod."""
    found = [("deployment", rendered.pod_spec)]
    found += [(p["metadata"]["name"], p["spec"]) for p in rendered.of_kind("Pod")]
    return found


def check_config(config_path: Path) -> subprocess.CompletedProcess[str]:
    """`streamhook check-config`, finding the file through STREAMHOOK_CONFIG as the image does."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "service"), STREAMHOOK_CONFIG=str(config_path))
    return subprocess.run(
        [sys.executable, "-m", "streamhook", "check-config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHECK_CONFIG_TIMEOUT_SECONDS,
        check=False,
    )


# -- lint and offline validation -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(name: str) -> None:
    path = VALUE_SETS[name]
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    if path is not None:
        args += ["--values", str(path)]
    result = run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_ci_value_sets_cover_the_issue() -> None:
    assert set(VALUE_SETS) == {
        "default",
        "cluster-wide-values",
        "existing-secret-values",
        "index-only-values",
        "ingress-values",
        "networkpolicy-values",
        "route-reencrypt-values",
        "servicemonitor-values",
    }


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid(name: str) -> None:
    rendered = rendered_set(name)
    assert rendered.objects
    for manifest in rendered.objects:
        try:
            validate_object(manifest)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc}")
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_validation_catches_a_broken_object() -> None:
    deployment = json.loads(json.dumps(rendered_set("default").deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = (
        "/"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_object(deployment)
    route = json.loads(json.dumps(rendered_set("networkpolicy-values").one("Route")))
    route["spec"]["tls"]["termination"] = "edgy"
    with pytest.raises(jsonschema.ValidationError):
        validate_object(route)


def test_default_render_has_exactly_the_expected_objects() -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in rendered_set("default").objects)
    assert kinds == sorted(
        [
            ("ClusterRole", f"{GLOBAL_NAME}-images"),
            ("ClusterRoleBinding", f"{GLOBAL_NAME}-images"),
            ("ConfigMap", FULLNAME),
            ("Deployment", FULLNAME),
            ("Pod", f"{FULLNAME}-test-readyz"),
            ("PodDisruptionBudget", FULLNAME),
            ("Secret", FULLNAME),
            ("Service", FULLNAME),
            ("ServiceAccount", FULLNAME),
        ]
    )


# -- pod security ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_pods_pass_restricted_v2_without_fixed_ids(name: str) -> None:
    for pod_name, spec in pods(rendered_set(name)):
        fixed = {k for k, _ in walk(spec) if k in ("runAsUser", "runAsGroup", "fsGroup")}
        assert not fixed, f"{pod_name}: OpenShift assigns {fixed}, the chart must not"
        for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(forbidden), f"{pod_name}: {forbidden}"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True
            assert context.get("privileged", False) is False
            for port in container.get("ports", []):
                assert port["containerPort"] >= 1024, "no capability to bind a low port"
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUME_TYPES, f"{pod_name}: volume {volume}"


def test_writable_tmp_is_the_only_writable_mount() -> None:
    rendered = rendered_set("route-reencrypt-values")
    volumes = {v["name"]: v for v in rendered.pod_spec["volumes"]}
    writable = [m for m in rendered.container["volumeMounts"] if not m.get("readOnly")]
    assert [m["mountPath"] for m in writable] == ["/tmp"]
    assert "emptyDir" in volumes[writable[0]["name"]]
    assert volumes[writable[0]["name"]]["emptyDir"]["sizeLimit"] == "64Mi"


# -- RBAC ------------------------------------------------------------------------------------------


def _role_set(rendered: Rendered) -> dict[str, Manifest]:
    return {r["metadata"]["namespace"]: r for r in rendered.of_kind("Role")}


def _assert_binds_service_account(binding: Manifest, kind: str, role_name: str) -> None:
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": kind,
        "name": role_name,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]


def test_roles_grant_exactly_the_issue_verbs_per_namespace() -> None:
    rendered = rendered_set("existing-secret-values")
    roles = _role_set(rendered)
    assert sorted(roles) == ["acme", "library"]  # the literal namespaces of its rules
    bindings = {b["metadata"]["namespace"]: b for b in rendered.of_kind("RoleBinding")}
    assert sorted(bindings) == sorted(roles)
    for namespace, role in roles.items():
        assert role["metadata"]["name"] == GLOBAL_NAME
        assert grants(role["rules"]) == IMAGESTREAM_GRANTS
        _assert_binds_service_account(bindings[namespace], "Role", GLOBAL_NAME)
    assert not [
        c
        for c in rendered.of_kind("ClusterRole")
        if c["metadata"]["name"].endswith("-imagestreams")
    ]


def test_roles_narrow_when_features_are_off() -> None:
    rendered = rendered_set("index-only-values")
    roles = _role_set(rendered)
    assert sorted(roles) == ["demo", "extra-ns", "shared-images"]  # rbac.namespaces + rules
    for role in roles.values():
        # createImageStreams: false and events: false leave only the mapping itself.
        assert grants(role["rules"]) == {
            ("image.openshift.io", "imagestreammappings", "create"),
            ("image.openshift.io", "imagestreams", "get"),
        }


def test_cluster_wide_rbac_is_one_cluster_role_and_no_roles() -> None:
    rendered = rendered_set("cluster-wide-values")
    assert rendered.of_kind("Role") == []
    assert rendered.of_kind("RoleBinding") == []
    role = rendered.one("ClusterRole", f"{GLOBAL_NAME}-imagestreams")
    assert grants(role["rules"]) == IMAGESTREAM_GRANTS
    binding = rendered.one("ClusterRoleBinding", f"{GLOBAL_NAME}-imagestreams")
    _assert_binds_service_account(binding, "ClusterRole", f"{GLOBAL_NAME}-imagestreams")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_images_cluster_role_only_when_manifest_lists_are_preserved(name: str) -> None:
    rendered = rendered_set(name)
    preserve = rendered.config["openshift"]["manifestLists"] == "preserve"
    images = [
        c for c in rendered.of_kind("ClusterRole") if c["metadata"]["name"].endswith("-images")
    ]
    if not preserve:
        assert images == []
        return
    assert len(images) == 1
    assert grants(images[0]["rules"]) == IMAGES_GRANTS
    binding = rendered.one("ClusterRoleBinding", f"{GLOBAL_NAME}-images")
    _assert_binds_service_account(binding, "ClusterRole", f"{GLOBAL_NAME}-images")


def test_no_rbac_when_disabled() -> None:
    rendered = render(ci_file("cluster-wide-values"), sets=("rbac.create=false",))
    kinds = {o["kind"] for o in rendered.objects}
    assert not kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


# -- configuration ---------------------------------------------------------------------------------


def test_config_checksum_present_and_follows_the_config() -> None:
    def checksum(rendered: Rendered) -> str:
        annotations = rendered.deployment["spec"]["template"]["metadata"]["annotations"]
        value: str = annotations["checksum/config"]
        assert re.fullmatch(r"[0-9a-f]{64}", value)
        return value

    base = checksum(rendered_set("default"))
    assert checksum(render(sets=("config.logLevel=debug",))) != base
    assert checksum(render(sets=("config.queue.workers=8",))) != base
    assert checksum(render(sets=("replicaCount=3",))) == base
    # A registry CA lives in the ConfigMap too, and counts.
    with_ca = rendered_set("cluster-wide-values")
    other_ca = render(
        ci_file("cluster-wide-values"),
        sets=("config.registries[0].ca=-----BEGIN CERTIFICATE-----\nother",),
    )
    assert checksum(with_ca) != checksum(other_ca)


def test_secret_checksum_follows_secret_inputs() -> None:
    def checksum(rendered: Rendered) -> str:
        value: str = rendered.deployment["spec"]["template"]["metadata"]["annotations"][
            "checksum/secret"
        ]
        return value

    base = rendered_set("ingress-values")
    changed = render(ci_file("ingress-values"), sets=("config.webhooks[0].auth.secret=other",))
    assert checksum(base) != checksum(changed)
    assert checksum(base) == checksum(render(ci_file("ingress-values")))


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_config_passes_check_config(name: str, tmp_path: Path) -> None:
    rendered = rendered_set(name)
    config_file = materialise_pod_files(rendered, tmp_path)
    result = check_config(config_file)
    assert result.returncode == 0, f"check-config failed for {name}:\n{result.stderr}"
    effective = yaml.safe_load(result.stdout)
    port = rendered.container["ports"][0]["containerPort"]
    assert effective["server"]["listen"] == f"0.0.0.0:{port}"


def test_check_config_run_can_fail(tmp_path: Path) -> None:
    rendered = rendered_set("cluster-wide-values")
    config_file = materialise_pod_files(rendered, tmp_path)
    broken = yaml.safe_load(config_file.read_text())
    broken["webhooks"][0]["registry"] = "nowhere"
    config_file.write_text(yaml.safe_dump(broken))
    result = check_config(config_file)
    assert result.returncode == 1
    assert "webhooks[0].registry" in result.stderr


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_config_points_only_at_mounted_paths(name: str) -> None:
    rendered = rendered_set(name)
    env = {e["name"]: e.get("value") for e in rendered.container["env"]}
    assert env["STREAMHOOK_CONFIG"] == "/etc/streamhook/config/config.yaml"
    mounts = [m["mountPath"] for m in rendered.container["volumeMounts"]]
    for key, value in walk(rendered.config):
        if isinstance(value, str) and value.startswith("/"):
            assert any(value.startswith(m + "/") for m in mounts), f"{key}: {value}"


def test_secrets_stay_out_of_the_config_map_and_pod_spec() -> None:
    inline = {
        "cluster-wide-values": ["ci-registry-password", "ci-webhook-token"],
        "ingress-values": ["ci-gitlab-header-value"],
        "networkpolicy-values": ["ci-dist-token"],
    }
    for name, secrets in inline.items():
        rendered = rendered_set(name)
        exposed = rendered.config_text + yaml.safe_dump(rendered.deployment)
        secret = rendered.one("Secret", FULLNAME)
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        for value in secrets:
            assert value not in exposed, f"{name}: {value} leaked"
            assert value in decoded.values(), f"{name}: {value} missing from the Secret"


def test_secret_files_are_referenced_by_file_keys() -> None:
    rendered = rendered_set("cluster-wide-values")
    cfg = rendered.config
    assert cfg["registries"][0]["auth"] == {
        "username": "robot$openshift+streamhook",
        "passwordFile": f"{SECRETS_DIR}/registry.harbor.password",
    }
    assert cfg["registries"][0]["caFile"] == "/etc/streamhook/config/ca.harbor.crt"
    assert cfg["webhooks"][0]["auth"] == {"bearerTokenFile": f"{SECRETS_DIR}/webhook.harbor"}
    secret = rendered.one("Secret", FULLNAME)
    assert sorted(secret["data"]) == ["registry.harbor.password", "webhook.harbor"]


def test_empty_webhook_secret_is_generated() -> None:
    rendered = rendered_set("index-only-values")
    secret = rendered.one("Secret", FULLNAME)
    token = base64.b64decode(secret["data"]["webhook.dist"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{40}", token)


def test_existing_secret_replaces_the_chart_secret() -> None:
    rendered = rendered_set("existing-secret-values")
    assert rendered.of_kind("Secret") == []
    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "secrets")
    sources = volume["projected"]["sources"]
    assert sources[0] == {"secret": {"name": "streamhook-secrets"}}
    # A registry's own pull secret is projected under the key the config expects.
    assert sources[1] == {
        "secret": {
            "name": "ghcr-pull-secret",
            "items": [{"key": ".dockerconfigjson", "path": "registry.ghcr.dockerconfigjson"}],
        }
    }
    assert volume["projected"]["defaultMode"] == 0o440
    auth = {r["name"]: r["auth"] for r in rendered.config["registries"]}
    assert auth["ghcr"] == {"dockerConfigJson": f"{SECRETS_DIR}/registry.ghcr.dockerconfigjson"}
    assert auth["nexus"]["passwordFile"] == f"{SECRETS_DIR}/registry.nexus.password"


def test_oidc_webhook_needs_no_secret() -> None:
    rendered = rendered_set("servicemonitor-values")
    hooks = {w["name"]: w for w in rendered.config["webhooks"]}
    values = values_of("servicemonitor-values")["config"]["webhooks"][1]
    assert hooks["gar"]["auth"] == {"oidc": values["auth"]["oidc"]}
    assert rendered.one("Secret", FULLNAME)["data"] == {}


def test_dry_run_mode_mounts_no_api_token() -> None:
    rendered = rendered_set("servicemonitor-values")
    assert rendered.config["openshift"]["mode"] == "dry-run"
    assert rendered.pod_spec["automountServiceAccountToken"] is False
    assert rendered_set("default").pod_spec["automountServiceAccountToken"] is True


# -- probes, lifecycle, availability ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_probes_and_grace_period(name: str) -> None:
    rendered = rendered_set(name)
    container = rendered.container
    port_name = container["ports"][0]["name"]
    scheme = "HTTPS" if port_name == "https" else "HTTP"
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        assert container[probe]["httpGet"] == {"path": path, "port": port_name, "scheme": scheme}
    drain = rendered.config["server"]["shutdownTimeoutSeconds"]
    assert rendered.pod_spec["terminationGracePeriodSeconds"] > drain
    assert container["args"] == ["serve"]


def test_disruption_budget_selects_the_server_pods() -> None:
    rendered = rendered_set("default")
    budget = rendered.one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    template_labels = rendered.deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
    pinned = render(sets=("podDisruptionBudget.minAvailable=1",)).one("PodDisruptionBudget")
    assert pinned["spec"] == {"minAvailable": 1, "selector": budget["spec"]["selector"]}


# -- exposure --------------------------------------------------------------------------------------


def test_service_selects_server_pods_but_not_the_test_pod() -> None:
    rendered = rendered_set("default")
    selector = rendered.one("Service")["spec"]["selector"]
    template_labels = rendered.deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()
    test_pod_labels = rendered.one("Pod")["metadata"]["labels"]
    assert not selector.items() <= test_pod_labels.items()


def test_edge_route_exposes_only_webhooks() -> None:
    rendered = rendered_set("networkpolicy-values")
    route = rendered.one("Route")
    assert route["spec"]["path"] == "/webhooks"
    assert route["spec"]["to"] == {"kind": "Service", "name": FULLNAME, "weight": 100}
    assert route["spec"]["port"] == {"targetPort": "http"}
    assert route["spec"]["tls"] == {
        "termination": "edge",
        "insecureEdgeTerminationPolicy": "Redirect",
    }
    assert "host" not in route["spec"]  # generated by OpenShift


def test_reencrypt_route_with_service_serving_certificate() -> None:
    rendered = rendered_set("route-reencrypt-values")
    service = rendered.one("Service")
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.openshift.io/serving-cert-secret-name"] == f"{FULLNAME}-tls"
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 8080, "targetPort": "https", "protocol": "TCP"}
    ]
    route = rendered.one("Route")
    assert route["spec"]["host"] == "streamhook.apps.example.com"
    assert route["spec"]["tls"]["termination"] == "reencrypt"
    assert route["spec"]["port"] == {"targetPort": "https"}
    tls_volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "tls")
    assert tls_volume["secret"]["secretName"] == f"{FULLNAME}-tls"
    assert rendered.config["server"]["tlsCertFile"] == "/etc/streamhook/tls/tls.crt"
    assert rendered.config["server"]["tlsKeyFile"] == "/etc/streamhook/tls/tls.key"
    ca_map = rendered.one("ConfigMap", f"{FULLNAME}-service-ca")
    assert ca_map["metadata"]["annotations"] == {
        "service.beta.openshift.io/inject-cabundle": "true"
    }


def test_tls_from_a_given_secret_skips_the_service_ca() -> None:
    rendered = render(ci_file("route-reencrypt-values"), sets=("tls.secretName=my-cert",))
    assert "annotations" not in rendered.one("Service")["metadata"]
    tls_volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "tls")
    assert tls_volume["secret"]["secretName"] == "my-cert"
    assert f"{FULLNAME}-service-ca" not in rendered.named("ConfigMap")


def test_ingress_exposes_only_webhooks() -> None:
    rendered = rendered_set("ingress-values")
    ingress = rendered.one("Ingress")
    assert ingress["spec"]["ingressClassName"] == "openshift-default"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["streamhook.example.com"], "secretName": "streamhook-ingress-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "streamhook.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/webhooks",
            "pathType": "Prefix",
            "backend": {"service": {"name": FULLNAME, "port": {"name": "http"}}},
        }
    ]


def test_network_policy_admits_only_configured_peers_on_the_service_port() -> None:
    rendered = rendered_set("networkpolicy-values")
    policy = rendered.one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    selector = rendered.one("Service")["spec"]["selector"]
    assert policy["podSelector"] == {"matchLabels": selector}
    webhook, metrics, helm_test = policy["ingress"]
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        assert rule["from"], "an empty peer list would admit everyone"
    values = values_of("networkpolicy-values")["networkPolicy"]
    assert webhook["from"] == values["webhookFrom"]
    assert metrics["from"] == values["metricsFrom"]
    assert helm_test["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/instance": RELEASE,
                    "app.kubernetes.io/component": "helm-test",
                }
            }
        }
    ]
    test_pod = rendered.one("Pod")
    assert helm_test["from"][0]["podSelector"]["matchLabels"].items() <= (
        test_pod["metadata"]["labels"].items()
    )


def test_service_monitor_scrapes_metrics() -> None:
    plain = rendered_set("servicemonitor-values").one("ServiceMonitor")
    assert plain["metadata"]["labels"]["team"] == "platform"
    (endpoint,) = plain["spec"]["endpoints"]
    assert endpoint == {
        "port": "http",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "10s",
        "scheme": "http",
    }
    service = rendered_set("servicemonitor-values").one("Service")
    assert plain["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()

    secure = rendered_set("route-reencrypt-values").one("ServiceMonitor")
    (endpoint,) = secure["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "serverName": f"{FULLNAME}.{NAMESPACE}.svc",
        "ca": {"configMap": {"name": f"{FULLNAME}-service-ca", "key": "service-ca.crt"}},
    }


# -- helm test hook --------------------------------------------------------------------------------


def _test_pod_command(pod: Manifest) -> list[str]:
    container = pod["spec"]["containers"][0]
    command: list[str] = container["command"] + container["args"]
    return command


def test_helm_test_hook_checks_readyz() -> None:
    pod = rendered_set("default").one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert "hook-succeeded" in pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    command = _test_pod_command(pod)
    assert command[:2] == ["python", "-c"]
    compile(command[2], "helm-test", "exec")  # the probe script is valid Python
    assert command[3:] == [f"http://{FULLNAME}.{NAMESPACE}.svc:8080/readyz", ""]


def test_helm_test_hook_verifies_the_service_ca_over_https() -> None:
    pod = rendered_set("route-reencrypt-values").one("Pod")
    command = _test_pod_command(pod)
    ca_path = "/etc/streamhook/service-ca/service-ca.crt"
    assert command[3:] == [f"https://{FULLNAME}.{NAMESPACE}.svc:8080/readyz", ca_path]
    (mount,) = pod["spec"]["containers"][0]["volumeMounts"]
    assert ca_path.startswith(mount["mountPath"] + "/")
    (volume,) = pod["spec"]["volumes"]
    assert volume["configMap"]["name"] == f"{FULLNAME}-service-ca"


def test_helm_test_hook_script_probes_a_live_server(tmp_path: Path) -> None:
    """Run the hook's Python against a loopback server: 200 passes, 503 keeps failing."""
    import http.server
    import threading

    status = {"code": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status["code"] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        script = _test_pod_command(rendered_set("default").one("Pod"))[2]
        # One attempt only: the pod's retry loop waits between tries.
        quick = script.replace("range(1, 13)", "range(1, 2)").replace("time.sleep(5)", "pass")
        url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
        ok = subprocess.run([sys.executable, "-c", quick, url, ""], capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stdout
        status["code"] = 503
        bad = subprocess.run(
            [sys.executable, "-c", quick, url, ""], capture_output=True, timeout=30
        )
        assert bad.returncode == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_tests_can_be_switched_off() -> None:
    assert render(sets=("tests.enabled=false",)).of_kind("Pod") == []


# -- values that must be rejected ------------------------------------------------------------------

_WEBHOOK = {"name": "hook", "format": "harbor", "registry": "r", "auth": {"type": "bearerToken"}}
_REGISTRY = {"name": "r", "url": "https://r.example.com"}


def _with(**config: Any) -> dict[str, Any]:
    return {"config": {"registries": [_REGISTRY], "webhooks": [_WEBHOOK], **config}}


SCHEMA_REJECTIONS = [
    (
        {"config": {"openshift": {"manifestLists": "all"}}},
        "at '/config/openshift/manifestLists': value must be one of 'preserve', 'index-only'",
    ),
    (
        {"config": {"server": {"listen": "0.0.0.0:80"}}},
        "additional properties 'listen' not allowed",
    ),
    (
        {"config": {"openshift": {"kubeconfig": "/k"}}},
        "additional properties 'kubeconfig' not allowed",
    ),
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"route": {"termination": "passthrough"}}, "at '/route/termination'"),
    ({"containerPort": 80}, "at '/containerPort'"),
    ({"replicaCount": -1}, "at '/replicaCount'"),
    ({"image": {"digest": "latest"}}, "at '/image/digest'"),
    ({"serviceMonitor": {"interval": "often"}}, "at '/serviceMonitor/interval'"),
    (
        {"config": {"webhooks": [dict(_WEBHOOK, name="Bad_Name")], "registries": [_REGISTRY]}},
        "at '/config/webhooks/0/name'",
    ),
    (
        {"config": {"webhooks": [dict(_WEBHOOK, format="bitbucket")], "registries": [_REGISTRY]}},
        "at '/config/webhooks/0/format'",
    ),
    (_with(webhooks=[dict(_WEBHOOK, auth={"type": "header"})]), "missing property 'header'"),
    (_with(webhooks=[dict(_WEBHOOK, auth={"type": "basic"})]), "missing property 'username'"),
    (_with(webhooks=[dict(_WEBHOOK, auth={})]), "missing property 'type'"),
    (_with(webhooks=[dict(_WEBHOOK, auth={"type": "oidc"})]), "missing property 'oidc'"),
    (
        _with(webhooks=[dict(_WEBHOOK, auth={"type": "none", "secret": "x"})]),
        "at '/config/webhooks/0/auth'",
    ),
    (_with(webhooks=[dict(_WEBHOOK, auth={"type": "token"})]), "at '/config/webhooks/0/auth/type'"),
    (
        _with(webhooks=[{k: v for k, v in _WEBHOOK.items() if k != "auth"}]),
        "missing property 'auth'",
    ),
    (
        _with(registries=[dict(_REGISTRY, url="https://r.example.com/v2/")]),
        "at '/config/registries/0/url'",
    ),
    (
        _with(registries=[dict(_REGISTRY, auth={"type": "basic"})]),
        "missing property 'username'",
    ),
    (
        _with(registries=[dict(_REGISTRY, caFile="/x")]),
        "additional properties 'caFile' not allowed",
    ),
    (_with(rules=[{"registry": "r", "repository": "a/*"}]), "missing property 'namespace'"),
    (
        _with(rules=[{"registry": "r", "repository": "a/*", "namespace": "ns1", "tags": []}]),
        "at '/config/rules/0/tags'",
    ),
    ({"rbac": {"namespaces": ["Not_A_Namespace"]}}, "at '/rbac/namespaces/0'"),
]


@pytest.mark.parametrize(("overrides", "message"), SCHEMA_REJECTIONS)
def test_schema_rejects_bad_values(overrides: dict[str, Any], message: str) -> None:
    error = render_error(overrides=overrides)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


TEMPLATE_REJECTIONS = [
    (
        {"terminationGracePeriodSeconds": 20},
        "terminationGracePeriodSeconds (20) must be longer than "
        "config.server.shutdownTimeoutSeconds (25)",
    ),
    ({"route": {"enabled": True, "termination": "reencrypt"}}, "needs tls.enabled=true"),
    (
        {"route": {"enabled": True}, "tls": {"enabled": True}},
        "route.termination=edge sends plain HTTP to the pod",
    ),
    (
        {"tls": {"enabled": True, "serviceServingCert": False}},
        "tls.enabled=true needs tls.serviceServingCert=true (OpenShift) or tls.secretName",
    ),
    ({"ingress": {"enabled": True}}, "ingress.enabled=true needs ingress.host"),
    (
        {
            "existingSecret": "mine",
            **_with(webhooks=[dict(_WEBHOOK, auth={"type": "bearerToken", "secret": "x"})]),
        },
        "config.webhooks[0] (hook): existingSecret is set, so remove auth.secret",
    ),
    (
        {
            "existingSecret": "mine",
            **_with(
                registries=[
                    dict(_REGISTRY, auth={"type": "basic", "username": "u", "password": "p"})
                ]
            ),
        },
        "config.registries[0] (r): existingSecret is set",
    ),
    (
        _with(registries=[dict(_REGISTRY, auth={"type": "basic", "username": "u"})]),
        "auth.type=basic needs auth.password",
    ),
    (
        _with(registries=[dict(_REGISTRY, auth={"type": "dockerConfigJson"})]),
        "auth.type=dockerConfigJson needs auth.dockerConfigJson or auth.pullSecret",
    ),
    (
        _with(webhooks=[dict(_WEBHOOK, registry="elsewhere")]),
        'config.webhooks[0] (hook): no registry named "elsewhere"',
    ),
]


@pytest.mark.parametrize(("overrides", "message"), TEMPLATE_REJECTIONS)
def test_templates_reject_inconsistent_values(overrides: dict[str, Any], message: str) -> None:
    assert message in render_error(overrides=overrides)


# -- hostile values --------------------------------------------------------------------------------

YAML_SPECIALS = "a\"b'c\n: {x} # d\t- e |\\ ${HOME} {{ .Values }}"


def test_secret_with_yaml_and_template_specials_round_trips() -> None:
    overrides = _with(
        webhooks=[dict(_WEBHOOK, auth={"type": "bearerToken", "secret": YAML_SPECIALS})]
    )
    rendered = render(overrides=overrides)
    secret = rendered.one("Secret", FULLNAME)
    assert base64.b64decode(secret["data"]["webhook.hook"]).decode() == YAML_SPECIALS
    assert YAML_SPECIALS not in rendered.config_text


def test_usernames_and_patterns_with_specials_are_rendered_literally() -> None:
    username = 'robot$team+sh: "x"\n- y'
    overrides = _with(
        registries=[dict(_REGISTRY, auth={"type": "basic", "username": username, "password": "p"})],
        rules=[
            {"registry": "r", "repository": "a/*[!x]", "tags": ["v*", "*-rc?"], "namespace": "ns1"}
        ],
    )
    cfg = render(overrides=overrides).config
    assert cfg["registries"][0]["auth"]["username"] == username
    assert cfg["rules"][0]["repository"] == "a/*[!x]"
    assert cfg["rules"][0]["tags"] == ["v*", "*-rc?"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            _with(webhooks=[dict(_WEBHOOK, auth={"type": "header", "header": "X-A\nX-B: evil"})]),
            "at '/config/webhooks/0/auth/header'",
        ),
        (
            _with(
                rules=[{"registry": "r", "repository": "a", "namespace": "n\nkind: ClusterRole"}]
            ),
            "at '/config/rules/0/namespace'",
        ),
        ({"route": {"host": "a.example.com\n  path: /"}}, "at '/route/host'"),
        ({"existingSecret": "x\n  optional: true"}, "at '/existingSecret'"),
        (
            {"config": {"registries": [dict(_REGISTRY, name="../etc")]}},
            "at '/config/registries/0/name'",
        ),
        (
            {"config": {"registries": [dict(_REGISTRY, name="r" * 64)]}},
            "at '/config/registries/0/name'",
        ),
        ({"config": {"server": {"maxBodyBytes": 2**40}}}, "at '/config/server/maxBodyBytes'"),
    ],
)
def test_injection_and_oversized_values_are_rejected(
    overrides: dict[str, Any], message: str
) -> None:
    assert message in render_error(overrides=overrides)


def test_many_webhooks_render_distinct_secret_files() -> None:
    count = 100
    hooks = [dict(_WEBHOOK, name=f"hook-{i}") for i in range(count)]
    rendered = render(overrides=_with(webhooks=hooks))
    files = [w["auth"]["bearerTokenFile"] for w in rendered.config["webhooks"]]
    assert len(set(files)) == count
    secret = rendered.one("Secret", FULLNAME)
    assert len(secret["data"]) == count
    tokens = {base64.b64decode(v) for v in secret["data"].values()}
    assert len(tokens) == count, "every generated secret is different"
    for manifest in rendered.objects:
        validate_object(manifest)


# -- the chart follows streamhook ------------------------------------------------------------------


def _schema_properties(*path: str) -> set[str]:
    node: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    for key in path:
        node = node["properties"][key] if key != "[]" else node["items"]
    return set(node["properties"])


def _aliases(model: type[Any]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


# Keys the chart sets itself, or that make no sense in-cluster.
CHART_OWNED: dict[tuple[str, ...], set[str]] = {
    ("server",): {"listen", "tlsCertFile", "tlsKeyFile"},
    ("openshift",): {"kubeconfig", "context", "dryRunOutput"},
}


@pytest.mark.parametrize(
    ("path", "model", "chart_only"),
    [
        (("server",), config.ServerConfig, set()),
        (("queue",), config.QueueConfig, set()),
        (("retry",), config.RetryConfig, set()),
        (("openshift",), config.OpenShiftConfig, set()),
        (("registries", "[]"), config.RegistryConfig, {"ca"}),
        (("webhooks", "[]"), config.WebhookConfig, set()),
        (("rules", "[]"), config.RuleConfig, set()),
    ],
)
def test_values_schema_tracks_the_config_models(
    path: tuple[str, ...], model: type[Any], chart_only: set[str]
) -> None:
    schema_keys = _schema_properties("config", *path)
    owned = CHART_OWNED.get(path, set()) | ({"caFile"} if path[0] == "registries" else set())
    assert schema_keys - chart_only == _aliases(model) - owned


def _webhook_auth_schema() -> dict[str, Any]:
    node = json.loads((CHART / "values.schema.json").read_text())
    webhook = node["properties"]["config"]["properties"]["webhooks"]["items"]
    auth: dict[str, Any] = webhook["properties"]["auth"]
    return auth


def test_values_schema_offers_every_webhook_auth_kind() -> None:
    kinds = {
        alias
        for alias in _aliases(config.WebhookAuth)
        if not alias.endswith("File") and alias != "headerValue"
    }
    assert set(_webhook_auth_schema()["properties"]["type"]["enum"]) == kinds


def test_values_schema_passes_oidc_settings_through() -> None:
    oidc = _webhook_auth_schema()["properties"]["oidc"]
    assert set(oidc["properties"]) == _aliases(config.OidcAuth)


def test_values_schema_knows_every_webhook_format() -> None:
    node = json.loads((CHART / "values.schema.json").read_text())
    webhook = node["properties"]["config"]["properties"]["webhooks"]["items"]
    assert tuple(webhook["properties"]["format"]["enum"]) == config.WEBHOOK_FORMATS


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{__version__}"' in pyproject


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `?([A-Za-z0-9_.\[\]]+)`? \|", readme, re.MULTILINE))
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    leaves = set(_documented_keys(values))
    assert leaves <= documented, f"undocumented values: {sorted(leaves - documented)}"


def _documented_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys a helm-docs table lists: leaves, and maps/lists given whole."""
    keys = []
    for key, value in values.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value and full not in _WHOLE_MAPS:
            keys += _documented_keys(value, full + ".")
        else:
            keys.append(full)
    return keys


_WHOLE_MAPS = {
    "podSecurityContext",
    "securityContext",
    "resources",
    "tests.image",
    "tests.resources",
} | {f"probes.{p}" for p in ("liveness", "readiness", "startup")}
