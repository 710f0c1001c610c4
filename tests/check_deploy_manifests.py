#!/usr/bin/env python3
"""Checks docker/compose*.yaml and docs/deploy/kubernetes.yaml without a
container engine or a cluster: they must parse, run only what the image's
entrypoint knows, mount what the image and pushgate expect where they expect
it, carry only settings the entrypoint reads, and embed configs that
`pushgate config check` accepts.

usage: check_deploy_manifests.py SOURCE_DIR PUSHGATE_BINARY
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

SRC, PUSHGATE = sys.argv[1], sys.argv[2]
COMPONENTS = {"gateway", "sync", "reaper"}
DATA_DIR = "/var/lib/pushgate"
failures = []


def problem(where, what):
    failures.append(f"{where}: {what}")


def read(path):
    with open(os.path.join(SRC, path)) as f:
        return f.read()


def load_all(path):
    return [d for d in yaml.safe_load_all(read(path)) if d is not None]


ENTRYPOINT = read("docker/entrypoint.sh")
ENTRYPOINT_SETTINGS = set(re.findall(r"\$\{?(PUSHGATE_[A-Z_]+)", ENTRYPOINT))
DOCKERFILE = read("docker/Dockerfile")
IMAGE_VOLUMES = set(re.findall(r'"(/[^"]+)"', re.search(r"^VOLUME (.*)$", DOCKERFILE, re.M).group(1)))
GIT_UID = int(re.search(r"useradd .*--uid (\d+)", DOCKERFILE).group(1))
OPERATIONS = read("docs/operations.md")


def check_config_text(where, text, token_path=None):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        # The file alone: the image's accounts and mounts are not this machine's.
        run = subprocess.run([PUSHGATE, "--config", path, "config", "check", "--file-only"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            problem(where, f"embedded config is not valid: {run.stderr.strip()}")
        if token_path is not None:
            found = re.search(r'^token_file\s*=\s*"([^"]+)"', text, re.M)
            if not found or found.group(1) != token_path:
                problem(where, f"token_file must be {token_path}, where the token is mounted")
    finally:
        os.unlink(path)


def check_env(where, names):
    for name in names:
        if name.startswith("PUSHGATE_") and name not in ENTRYPOINT_SETTINGS:
            problem(where, f"{name} is not a setting pushgate-entrypoint reads")


def check_component(where, command):
    if not command or command[0] not in COMPONENTS:
        problem(where, f"runs {command!r}; the entrypoint runs one of {sorted(COMPONENTS)}")
        return None
    return command[0]


# --- Compose -------------------------------------------------------------
standalone = load_all("docker/compose.yaml")[0]
controller = load_all("docker/compose.controller.yaml")[0]
services = standalone["services"]
for name, service in services.items():
    where = f"compose.yaml service {name}"
    component = check_component(where, service.get("command"))
    check_env(where, (service.get("environment") or {}).keys())
    volumes = service.get("volumes", [])
    if f"data:{DATA_DIR}" not in volumes:
        problem(where, f"does not mount the shared data volume at {DATA_DIR}")
    for volume in volumes:
        if volume.split(":")[0] not in standalone.get("volumes", {}):
            problem(where, f"mounts undeclared volume {volume}")
    if component == "gateway":
        for target in IMAGE_VOLUMES:
            if not any(v.endswith(":" + target) for v in volumes):
                problem(where, f"does not keep the image volume {target} (host keys would change on redeploy)")
        if not any(p.endswith(":22") for p in service.get("ports", [])):
            problem(where, "does not publish sshd's port 22")
if "gateway" not in services or "reaper" not in services:
    problem("compose.yaml", "needs the gateway and the reaper")
check_config_text("docker/pushgate.toml", read("docker/pushgate.toml"))

secrets = controller.get("secrets", {})
configs = controller.get("configs", {})
for name, config in configs.items():
    if not os.path.exists(os.path.join(SRC, "docker", config["file"])):
        problem(f"compose.controller.yaml config {name}", f"{config['file']} does not exist")
    else:
        check_config_text(f"compose.controller.yaml config {name}", read(os.path.join("docker", config["file"])),
                          token_path="/run/secrets/controller-token")
for name, service in controller["services"].items():
    where = f"compose.controller.yaml service {name}"
    merged = dict(services.get(name, {}), **service)
    check_component(where, merged.get("command"))
    check_env(where, (service.get("environment") or {}).keys())
    if f"data:{DATA_DIR}" not in merged.get("volumes", []):
        problem(where, f"does not mount the shared data volume at {DATA_DIR}")
    for secret in service.get("secrets", []):
        if secret not in secrets:
            problem(where, f"uses undeclared secret {secret}")
    if not any(c.get("target") == "/etc/pushgate/pushgate.toml" for c in service.get("configs", [])):
        problem(where, "does not mount the controller-mode config at /etc/pushgate/pushgate.toml")
if "sync" not in controller["services"]:
    problem("compose.controller.yaml", "controller mode needs the sync sidecar")

# --- Kubernetes ----------------------------------------------------------
docs = load_all("docs/deploy/kubernetes.yaml")
by_kind = {}
for doc in docs:
    by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
for kind in ("ConfigMap", "Secret", "Deployment", "Service"):
    if kind not in by_kind:
        problem("kubernetes.yaml", f"has no {kind}")
deployment = next(iter(by_kind.get("Deployment", {}).values()))
pod = deployment["spec"]["template"]["spec"]
volumes = {v["name"]: v for v in pod["volumes"]}
containers = {c["name"]: c for c in pod["containers"]}
if set(containers) != COMPONENTS:
    problem("kubernetes.yaml", f"containers are {sorted(containers)}, want {sorted(COMPONENTS)}")
if deployment["spec"]["selector"]["matchLabels"].items() - deployment["spec"]["template"]["metadata"]["labels"].items():
    problem("kubernetes.yaml", "the selector does not match the pod labels")

token_mount = None
for name, container in containers.items():
    where = f"kubernetes.yaml container {name}"
    check_component(where, container.get("args"))
    check_env(where, [e["name"] for e in container.get("env", [])])
    resources = container.get("resources", {})
    if "requests" not in resources or "memory" not in resources.get("limits", {}):
        problem(where, "needs resource requests and a memory limit")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    for path, volume in mounts.items():
        if volume not in volumes:
            problem(where, f"mounts undefined volume {volume}")
    if mounts.get(DATA_DIR) != "data":
        problem(where, f"does not share the data volume at {DATA_DIR}")
    if mounts.get("/etc/pushgate/pushgate.toml") != "config":
        problem(where, "does not mount the config at /etc/pushgate/pushgate.toml")
    for path, volume in mounts.items():
        if volume == "token":
            token_mount = path
    if name != "gateway":
        context = container.get("securityContext", {})
        if context.get("runAsUser") != GIT_UID or not context.get("runAsNonRoot"):
            problem(where, f"sidecars run as the image's git user (uid {GIT_UID}), never root")

gateway = containers.get("gateway", {})
ssh_port = next((p for p in gateway.get("ports", []) if p.get("containerPort") == 22), None)
if ssh_port is None:
    problem("kubernetes.yaml gateway", "does not expose containerPort 22")
if gateway.get("readinessProbe", {}).get("exec", {}).get("command") != ["/usr/bin/pushgate", "status", "--ready"]:
    problem("kubernetes.yaml gateway", "readiness must be `pushgate status --ready` (it fails while draining)")
pre_stop = gateway.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
if pre_stop[:4] != ["/usr/bin/pushgate", "drain", "on", "--wait"]:
    problem("kubernetes.yaml gateway", "preStop must drain and wait for pushes in flight")
else:
    wait = pre_stop[4]
    seconds = int(wait[:-1]) * {"s": 1, "m": 60, "h": 3600}[wait[-1]]
    if seconds >= pod.get("terminationGracePeriodSeconds", 30):
        problem("kubernetes.yaml", f"terminationGracePeriodSeconds must exceed the drain wait ({wait})")
env = {e["name"]: e.get("value") for e in gateway.get("env", [])}
gateway_mounts = {m["mountPath"]: m["name"] for m in gateway.get("volumeMounts", [])}
if gateway_mounts.get(env.get("PUSHGATE_HOST_KEY_DIR")) != "host-keys":
    problem("kubernetes.yaml gateway", "PUSHGATE_HOST_KEY_DIR must be where the host-keys secret is mounted")

for name, volume in volumes.items():
    if "configMap" in volume and volume["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
        problem("kubernetes.yaml", f"volume {name} uses an undefined ConfigMap")
    if "secret" in volume:
        secret = volume["secret"]["secretName"]
        if secret not in by_kind.get("Secret", {}) and f"kubectl create secret generic {secret}" not in OPERATIONS:
            problem("kubernetes.yaml", f"secret {secret} is neither defined here nor its creation documented")
for name, config_map in by_kind.get("ConfigMap", {}).items():
    token_file = None
    if token_mount is not None:
        secret = volumes["token"]["secret"]["secretName"]
        keys = list(by_kind["Secret"][secret].get("stringData", {}))
        token_file = f"{token_mount}/{keys[0]}" if keys else None
    check_config_text(f"kubernetes.yaml ConfigMap {name}", config_map["data"]["pushgate.toml"], token_path=token_file)
service = next(iter(by_kind.get("Service", {}).values()))
if service["spec"]["selector"].items() - deployment["spec"]["template"]["metadata"]["labels"].items():
    problem("kubernetes.yaml", "the Service selects no pushgate pod")
if not any(p.get("targetPort") in ("ssh", 22) for p in service["spec"]["ports"]):
    problem("kubernetes.yaml", "the Service does not reach sshd")

# The pod runs what the compose files run (tests/container_test.py runs
# those, and execs this readiness probe and preStop hook in its containers):
# the same arguments, settings, ports and mounts, and the image's probe.
compose_services = {name: dict(services.get(name, {}), **controller["services"].get(name, {})) for name in COMPONENTS}
healthcheck = re.search(r"^HEALTHCHECK .*CMD (\[.*\])$", DOCKERFILE, re.M)
if healthcheck is None or gateway.get("readinessProbe", {}).get("exec", {}).get("command") != yaml.safe_load(
        healthcheck.group(1)):
    problem("kubernetes.yaml gateway", "the readiness probe is not the image's HEALTHCHECK command")
for name, container in containers.items():
    where = f"kubernetes.yaml container {name}"
    service = compose_services.get(name, {})
    if container.get("args") != service.get("command"):
        problem(where, f"args {container.get('args')} differ from the compose command {service.get('command')}")
    pod_env = {e["name"]: e.get("value") for e in container.get("env", [])}
    pod_env.pop("PUSHGATE_HOST_KEY_DIR", None)  # host keys come from a secret on Kubernetes
    if pod_env != (service.get("environment") or {}):
        problem(where, f"environment {pod_env} differs from the compose service's {service.get('environment')}")
    pod_ports = sorted(p["containerPort"] for p in container.get("ports", []))
    compose_ports = sorted(int(str(p).rsplit(":", 1)[1]) for p in service.get("ports", []))
    if pod_ports != compose_ports:
        problem(where, f"container ports {pod_ports} differ from the compose service's {compose_ports}")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    host_keys = {e["value"] for e in container.get("env", []) if e["name"] == "PUSHGATE_HOST_KEY_DIR"}
    for volume in service.get("volumes", []):
        target = volume.split(":", 1)[1]
        if target not in mounts and not (target == "/var/lib/pushgate-host-keys" and host_keys & mounts):
            problem(where, f"does not mount {target}, which the compose service mounts")

for failure in failures:
    print("check_deploy_manifests:", failure, file=sys.stderr)
if failures:
    sys.exit(1)
print("compose and Kubernetes manifests: OK")
