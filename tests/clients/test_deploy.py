"""The deployment files, checked without Docker or a cluster: the Kubernetes manifests parse, agree with each
other (ports, probes, Secret and ConfigMap keys), and the configuration and policy store they mount load in
the real binary (`iamgate validate`), laid out as the projected volume lays them out. The Dockerfile runs as a
non-root user.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, CERT, KEY, ROOT

K8S = ROOT / "deploy" / "kubernetes"


@pytest.fixture(scope="module")
def manifests():
    docs = {}
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_deployment_shape(manifests):
    dep = manifests[("Deployment", "iamgate")]
    spec = dep["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [c] = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in c["env"]}
    assert env["IAMGATE_STS_TOKEN_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "iamgate-credentials"
    # The listeners of the configuration are the container's ports.
    import tomllib

    config = tomllib.loads(manifests[("ConfigMap", "iamgate-config")]["data"]["iamgate.toml"])
    listen = config["listen"]
    assert {k: int(v.rsplit(":", 1)[1]) for k, v in listen.items()} == {
        "http": ports["http"],
        "https": ports["https"],
        "admin": ports["admin"],
    }
    # The grace period covers the preStop pause and the gateway's shutdown grace.
    assert pod["terminationGracePeriodSeconds"] > config["limits"]["shutdown_grace_secs"] + 5
    # Every Secret key the pod reads exists.
    secret = manifests[("Secret", "iamgate-credentials")]["stringData"]
    for e in c["env"]:
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secret, ref
    # Services point at named container ports.
    for name in ("iamgate", "iamgate-admin"):
        for p in manifests[("Service", name)]["spec"]["ports"]:
            assert p["targetPort"] in ports, p


def test_dockerfile_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    users = [l.split()[1] for l in text.splitlines() if l.startswith("USER ")]
    assert users and not users[-1].startswith(("0", "root")), users
    assert text.count("FROM ") >= 2, "multi-stage"
    assert (ROOT / ".dockerignore").is_file()


def test_the_mounted_configuration_and_store_load(manifests, tmp_path):
    """Lay the projected volume out as the kubelet does, then `iamgate validate` the configuration."""
    dep = manifests[("Deployment", "iamgate")]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    store = tmp_path / "policies"
    for source in volumes["policies"]["projected"]["sources"]:
        kind, ref = next(iter(source.items()))
        doc = manifests[("ConfigMap" if kind == "configMap" else "Secret", ref["name"])]
        data = doc.get("data") or doc.get("stringData")
        for item in ref["items"]:
            target = store / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
    # Every account's files came through the volume.
    for account in store.iterdir():
        assert (account / "iam.json").is_file(), account
        assert (account / "credentials.json").is_file(), account
    text = manifests[("ConfigMap", "iamgate-config")]["data"]["iamgate.toml"]
    text = text.replace("/etc/iamgate/policies", str(store))
    text = text.replace("/etc/iamgate/tls/tls.crt", str(CERT)).replace("/etc/iamgate/tls/tls.key", str(KEY))
    config = tmp_path / "iamgate.toml"
    config.write_text(text)
    secret = manifests[("Secret", "iamgate-credentials")]["stringData"]
    env = dict(os.environ)
    env.update(
        UPSTREAM_ACCESS_KEY_ID=secret["upstream-access-key-id"],
        UPSTREAM_SECRET_ACCESS_KEY=secret["upstream-secret-access-key"],
        IAMGATE_STS_TOKEN_KEYS=secret["sts-token-keys"],
    )
    p = subprocess.run([str(BIN), "validate", "--config", str(config)], capture_output=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr.decode() + p.stdout.decode()
    assert b"2 accounts" in p.stdout, p.stdout
