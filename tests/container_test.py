#!/usr/bin/env python3
"""The container image as an operator meets it: built from the source tree
with Docker (where its daemon answers) or podman, run exactly as
docker/compose.yaml runs it, and pushed to from this machine with the real git
and ssh clients.

  - every library of the binaries resolves in the image, and libarchive is
    linked in (no libarchive13, libxml2 or libicu installed);
  - the gateway (OpenSSH sshd) deploys a push; a restart and a replacement
    container on the same volumes keep the host key (StrictHostKeyChecking=yes
    against the first connection's known_hosts), the users, the apps and the
    releases;
  - `pushgate status --ready` answers, and fails under `drain on`, when a push
    is refused with the drain message;
  - the reaper sidecar runs as the git user with no capabilities and serves
    its metrics;
  - the same image runs pushgate-sshd with no root at all (`--user git`) on a
    fresh volume, and a push deploys through it;
  - controller mode as docker/compose.controller.yaml adds it: the gateway,
    sync and reaper against the fake controller on this machine; a push
    builds on the controller; `drain on --wait` (the Kubernetes preStop) and
    then SIGTERM let a push in flight finish; the sidecars run as the git user
    with no capabilities, and the reaper also under the Kubernetes pod's
    securityContext (uid 990 from the start, read-only root file system).

The run arguments are read from docker/compose.yaml and
docker/compose.controller.yaml (command, ports, volumes, environment, stop
grace period, configs, secrets), so the compose files cannot drift from what
is tested; tests/check_deploy_manifests.py holds the Kubernetes example to
the same. Exit 77 (skipped) where no container engine can run.

usage: container_test.py SOURCE_DIR FAKE_CONTROLLER_SERVER
environment: PUSHGATE_CONTAINER_ENGINE=docker|podman picks the engine.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

SRC = os.path.abspath(sys.argv[1])
FAKE_CONTROLLER = os.path.abspath(sys.argv[2])
NAME = f"pushgate-ct-{os.getpid()}"
IMAGE = f"localhost/{NAME}:test"
BASE_IMAGE = "debian:12-slim"  # docker/Dockerfile's DEBIAN_IMAGE
# These VMs refuse the runtime's default rlimits (no CAP_SYS_RESOURCE), and
# crun refuses their cgroup layout: the ulimits and runc work everywhere.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
GIT_UID = 990  # the image's git user
# How a container reaches this machine: podman names it so; Docker is told.
HOST_NAME = "host.containers.internal"


def log(text):
    print(f"container_test: {text}", flush=True)


def fail(text):
    log(f"FAILED: {text}")
    raise SystemExit(1)


def run(args, check=True, timeout=300, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def pick_engine():
    reasons = []
    wanted = os.environ.get("PUSHGATE_CONTAINER_ENGINE")
    for engine in [wanted] if wanted else ["docker", "podman"]:
        if shutil.which(engine) is None:
            reasons.append(f"{engine} is not installed")
            continue
        info = run([engine, "info"], check=False, timeout=60)
        if info.returncode == 0:
            return engine
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        reasons.append(f"`{engine} info` failed: {last}")
    print("container_test: skipped: no container engine can run here (" + "; ".join(reasons) +
          "); scripts/bootstrap installs podman, or start the Docker daemon")
    raise SystemExit(77)


ENGINE = pick_engine()
PODMAN = ENGINE == "podman"
RUN_FLAGS = ULIMITS + (["--runtime", "runc"] if PODMAN and shutil.which("runc") else
                       [] if PODMAN else ["--add-host", f"{HOST_NAME}:host-gateway"])
BUILD_FLAGS = (["--isolation", "chroot"] + ULIMITS) if PODMAN else []


def engine(*args, **kwargs):
    return run([ENGINE, *args], **kwargs)


def pod_containers():
    """The containers of the Kubernetes example's pod, by name."""
    with open(os.path.join(SRC, "docs/deploy/kubernetes.yaml")) as f:
        deployment = next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "Deployment")
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


POD = pod_containers()
# The gateway's readiness probe and preStop hook (tests/check_deploy_manifests.py
# holds the probe to the image's HEALTHCHECK).
READINESS = POD["gateway"]["readinessProbe"]["exec"]["command"]
PRE_STOP = POD["gateway"]["lifecycle"]["preStop"]["exec"]["command"]


def pod_security_flags(name):
    """The run flags for a pod container's securityContext."""
    context = POD[name].get("securityContext", {})
    flags = []
    if "runAsUser" in context:
        flags += ["--user", f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}"]
    if context.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    for capability in context.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", capability]
    if context.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    return flags


def image_exists(image):
    return engine("image", "inspect", image, check=False).returncode == 0


def ensure_base_image():
    """debian:12-slim from a registry, or a stand-in made offline from
    Debian's packages where no registry answers."""
    if image_exists(BASE_IMAGE):
        return
    if engine("pull", BASE_IMAGE, check=False, timeout=120).returncode == 0:
        return
    if shutil.which("mmdebstrap") is None:
        fail(f"no {BASE_IMAGE} image, no registry to pull it from, and no mmdebstrap to make one")
    log(f"no registry has {BASE_IMAGE}; making a stand-in with mmdebstrap --variant=minbase bookworm "
        "(slim's dpkg excludes)")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = os.path.join(tmp, "bookworm.tar")
        # debian:12-slim's own dpkg excludes, so the stand-in and the
        # packages the image adds to it are the size they are on slim.
        excludes = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "groff", "info", "lintian",
                                                                          "linda", "locale")]
        run(["mmdebstrap", "--variant=minbase", *excludes, "--dpkgopt=path-include=/usr/share/doc/*/copyright",
             "bookworm", tarball], timeout=900)
        engine("import", tarball, BASE_IMAGE)


def image_mb(image):
    return int(engine("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()) / 1e6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Container:
    """One compose service run as the compose file says, with this test's
    names for its container and volumes and free ports on 127.0.0.1."""

    def __init__(self, compose, service, name, extra=(), command=None, volume_prefix=NAME, port_remap=None,
                 files=None):
        """files: the host file behind each of the compose file's configs
        and secrets, by name."""
        spec = compose["services"][service]
        self.name = name
        self.ports = {}
        args = ["run", "-d", "--name", name, *RUN_FLAGS, *extra]
        for mapping in spec.get("ports", []):
            container_port = int(str(mapping).rsplit(":", 1)[1])
            self.ports[container_port] = free_port()
            listening = (port_remap or {}).get(container_port, container_port)
            args += ["-p", f"127.0.0.1:{self.ports[container_port]}:{listening}"]
        for volume in spec.get("volumes", []):
            source, target = volume.split(":", 1)
            if source not in compose.get("volumes", {}):
                fail(f"compose service {service}: volume {source} is not a named volume")
            args += ["-v", f"{volume_prefix}-{source}:{target}"]
        for config in spec.get("configs", []):
            args += ["-v", f"{files[config['source']]}:{config['target']}:ro"]
        for secret in spec.get("secrets", []):
            args += ["-v", f"{files[secret]}:/run/secrets/{secret}:ro"]
        for key, value in (spec.get("environment") or {}).items():
            args += ["-e", f"{key}={value}"]
        grace = spec.get("stop_grace_period")
        if grace:
            if not str(grace).endswith("s"):
                fail(f"compose service {service}: stop_grace_period {grace} is not in seconds")
            args += ["--stop-timeout", str(grace)[:-1]]
        self.args = args + [IMAGE] + list(command if command is not None else spec["command"])

    def start(self):
        engine(*self.args)

    def remove(self):
        # -v: and its anonymous volumes; podman's -f waits out the stop
        # timeout first unless told otherwise (Docker's has no -t).
        engine("rm", "-f", "-v", *(["-t", "5"] if PODMAN else []), self.name, check=False)

    def logs(self):
        out = engine("logs", self.name, check=False)
        return out.stdout + out.stderr

    def exec(self, *args, check=True, input=None):
        flags = ["-i"] if input is not None else []
        return engine("exec", *flags, self.name, *args, check=check, input=input)

    def wait_for_ssh(self, port):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            state = engine("inspect", "--format", "{{.State.Running}}", self.name, check=False).stdout.strip()
            if state != "true":
                fail(f"{self.name} stopped before answering ssh:\n{self.logs()}")
            time.sleep(0.5)
        fail(f"{self.name} did not answer ssh on port {port} within 90 s:\n{self.logs()}")


class Pusher:
    """A developer on this machine: a key, a work tree of the sample app and
    a known_hosts file of their own."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.key = os.path.join(tmp, "id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@container-test", "-f", self.key])
        self.work = os.path.join(tmp, "work")
        shutil.copytree(os.path.join(SRC, "examples/sample-app"), self.work)
        for args in (["init", "-q", "-b", "main"], ["config", "user.name", "Alice"],
                     ["config", "user.email", "alice@example.com"]):
            run(["git", *args], cwd=self.work)
        self.commits = 0

    def public_key(self):
        with open(self.key + ".pub") as f:
            return f.read()

    def push(self, port, known_hosts, strict, app="myapp", output=None):
        """Commits a change and pushes it: the finished push, or with
        `output` (a file for stdout and stderr), the running one."""
        self.commits += 1
        with open(os.path.join(self.work, "VERSION"), "w") as f:
            f.write(f"{self.commits}\n")
        run(["git", "add", "-A"], cwd=self.work)
        run(["git", "commit", "-q", "-m", f"version {self.commits}"], cwd=self.work)
        ssh = (f"ssh -F /dev/null -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes "
               f"-o UserKnownHostsFile={known_hosts} "
               f"-o StrictHostKeyChecking={'yes' if strict else 'accept-new'}")
        args = ["git", "push", f"ssh://git@127.0.0.1:{port}/{app}.git", "main"]
        env = {**os.environ, "GIT_SSH_COMMAND": ssh}
        if output is not None:
            return subprocess.Popen(args, cwd=self.work, env=env, stdout=output, stderr=subprocess.STDOUT)
        return run(args, cwd=self.work, check=False, env=env, timeout=600)


def expect_release(gateway, number, push):
    if push.returncode != 0:
        fail(f"push {number} exited {push.returncode}:\n{push.stderr}\n{gateway.logs()}")
    current = gateway.exec("readlink", "/var/lib/pushgate/releases/myapp/current").stdout.strip()
    if not current.startswith(f"v{number}-"):
        fail(f"after push {number} the current release is {current!r}, want v{number}-...")
    log(f"push {number} deployed {current}")


def process_status(container):
    """Uid and CapEff of the container's main process."""
    fields = dict(line.split(":", 1) for line in container.exec("cat", "/proc/1/status").stdout.splitlines()
                  if ":" in line)
    return int(fields["Uid"].split()[1]), int(fields["CapEff"].strip(), 16)


def expect_lean_runtime(container):
    """Every library of every pushgate binary resolves in the image, and
    libarchive is linked in rather than installed: Debian's libarchive13
    would bring libxml2 and libicu (38 MB) for a format pushgate never uses."""
    # ldd fails on the static helpers ("not a dynamic executable") and the
    # scripts; what matters is that no library is "not found".
    libraries = container.exec("sh", "-c", "for f in /usr/bin/pushgate* /usr/libexec/pushgate/*; do "
                               "[ -f \"$f\" ] && echo \"$f:\" && ldd \"$f\" 2>&1; done; true").stdout
    missing = [line.strip() for line in libraries.splitlines() if "not found" in line]
    if missing:
        fail("the image lacks libraries its binaries need:\n" + "\n".join(missing))
    packages = container.exec("dpkg-query", "-W", "-f", "${Package}\\n").stdout.split()
    unwanted = [p for p in packages if re.match(r"(libarchive|libxml2|libicu)", p)] + \
        [line.strip() for line in libraries.splitlines() if "libarchive" in line]
    if unwanted:
        fail("the image installs or loads what the gateway does not need: " + ", ".join(unwanted))
    log(f"the runtime resolves every library of the binaries; no libarchive, libxml2 or libicu "
        f"among its {len(packages)} packages")


def standalone(compose, pusher, tmp):
    gateway = Container(compose, "gateway", f"{NAME}-gateway")
    reaper = Container(compose, "reaper", f"{NAME}-reaper")
    containers.extend([gateway, reaper])
    port = gateway.ports[22]
    known_hosts = os.path.join(tmp, "known_hosts")
    gateway.start()
    gateway.wait_for_ssh(port)
    expect_lean_runtime(gateway)
    gateway.exec("pushgate", "user", "add", "alice")
    gateway.exec("pushgate", "key", "add", "alice", "-", input=pusher.public_key())
    gateway.exec("pushgate", "app", "create", "myapp", "--member", "alice")
    expect_release(gateway, 1, pusher.push(port, known_hosts, strict=False))

    engine("restart", gateway.name, timeout=120)
    gateway.wait_for_ssh(port)
    expect_release(gateway, 2, pusher.push(port, known_hosts, strict=True))

    # An upgrade: a new container on the same volumes.
    gateway.remove()
    gateway.start()
    gateway.wait_for_ssh(port)
    expect_release(gateway, 3, pusher.push(port, known_hosts, strict=True))
    releases = gateway.exec("ls", "/var/lib/pushgate/releases/myapp").stdout.split()
    if not all(any(r.startswith(f"v{n}-") for r in releases) for n in (1, 2, 3)):
        fail(f"releases after the restart and the replacement: {releases}")
    if "alice" not in gateway.exec("pushgate", "user", "ls").stdout.split():
        fail("the replacement container lost the user alice")

    # The readiness probe of docs/deploy/kubernetes.yaml, the image's HEALTHCHECK.
    if gateway.exec(*READINESS, check=False).returncode != 0:
        fail("`pushgate status --ready` fails on a serving gateway")
    gateway.exec("pushgate", "drain", "on")
    if gateway.exec(*READINESS, check=False).returncode == 0:
        fail("`pushgate status --ready` succeeds while draining")
    refused = pusher.push(port, known_hosts, strict=True)
    if refused.returncode == 0 or "paused for maintenance" not in refused.stderr:
        fail(f"a push while draining was not refused with the drain message:\n{refused.stderr}")
    gateway.exec("pushgate", "drain", "off")
    if gateway.exec(*READINESS, check=False).returncode != 0:
        fail("`pushgate status --ready` still fails after `drain off`")
    log("restart, replacement and probes: ok")

    reaper.start()
    if "pushgate_reaper" not in metrics(reaper, reaper.ports[9464]):
        fail("the reaper's metrics have no pushgate_reaper series")
    expect_git_user_without_capabilities(reaper)
    log("reaper sidecar: ok")
    gateway.remove()
    reaper.remove()


def sshd_without_root(compose, pusher, tmp):
    """pushgate-sshd as the image's git user on fresh volumes: no root in
    the container at any point."""
    gateway = Container(compose, "gateway", f"{NAME}-sshd", extra=["--user", "git"], command=["sshd"],
                        volume_prefix=f"{NAME}-sshd", port_remap={22: 2222})
    containers.append(gateway)
    port = gateway.ports[22]
    gateway.start()
    gateway.wait_for_ssh(port)
    expect_git_user_without_capabilities(gateway)
    gateway.exec("pushgate", "user", "add", "alice")
    gateway.exec("pushgate", "key", "add", "alice", "-", input=pusher.public_key())
    gateway.exec("pushgate", "app", "create", "myapp", "--member", "alice")
    known_hosts = os.path.join(tmp, "known_hosts_sshd")
    pusher.commits = 0
    expect_release(gateway, 1, pusher.push(port, known_hosts, strict=False))
    engine("restart", gateway.name, timeout=120)
    gateway.wait_for_ssh(port)
    expect_release(gateway, 2, pusher.push(port, known_hosts, strict=True))
    log("pushgate-sshd as the git user: ok")
    gateway.remove()


def merged_compose(*paths):
    """The compose files as `docker compose -f A -f B` merges them: mappings
    merge, lists add up."""
    def merge(base, override):
        if isinstance(base, dict) and isinstance(override, dict):
            return {k: merge(base[k], v) if k in base else v for k, v in override.items()} | \
                {k: v for k, v in base.items() if k not in override}
        if isinstance(base, list) and isinstance(override, list):
            return base + [v for v in override if v not in base]
        return override
    result = {}
    for path in paths:
        with open(os.path.join(SRC, path)) as f:
            result = merge(result, yaml.safe_load(f))
    return result


def metrics(container, port):
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                return answer.read().decode()
        except OSError as error:
            if time.monotonic() > deadline:
                fail(f"the metrics of {container.name} did not answer: {error}\n{container.logs()}")
            time.sleep(0.5)


def expect_git_user_without_capabilities(container):
    uid, caps = process_status(container)
    if uid != GIT_UID or caps != 0:
        fail(f"{container.name} runs as uid {uid} with capabilities {caps:#x}, want uid {GIT_UID} and none")


def host_address():
    """The address containers reach this machine at, from a container's own
    view (podman writes it into /etc/hosts)."""
    hosts = engine("run", "--rm", *RUN_FLAGS, "--entrypoint", "getent", IMAGE, "hosts", HOST_NAME,
                   check=False).stdout.split()
    if not hosts:
        fail(f"a container cannot resolve {HOST_NAME}, the address of this machine")
    return hosts[0]


def controller_mode(pusher, tmp):
    compose = merged_compose("docker/compose.yaml", "docker/compose.controller.yaml")
    token = os.path.join(tmp, "controller-token")
    with open(token, "w") as f:
        f.write("container-test-token\n")
    os.chown(token, GIT_UID, GIT_UID)
    os.chmod(token, 0o400)
    address = host_address()
    key_file = pusher.key + ".pub"
    os.chmod(tmp, 0o755)
    fake = subprocess.Popen([FAKE_CONTROLLER, "--bind", address, "--token", "container-test-token",
                             "--key", f"alice={key_file}", "--app", "myapp=alice", "--build-seconds", "8"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = fake.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            fail(f"the fake controller did not start: {line}")
        # The shipped file with the controller's address, and pushgate's build
        # API in place of the image builder the image does not carry.
        config_name = next(iter(compose["configs"]))
        with open(os.path.join(SRC, "docker", compose["configs"][config_name]["file"])) as f:
            text = f.read()
        text, urls = re.subn(r'^url = ".*"$', f'url = "http://{HOST_NAME}:{line[1]}"', text, flags=re.M)
        text, builds = re.subn(r"^\[build\]\n(?:[^\[\n].*\n|\n)*", '[build]\ndriver = "pushgate"\n\n', text,
                               flags=re.M)
        if (urls, builds) != (1, 1):
            fail(f"the controller config has {urls} url lines and {builds} [build] tables, want one of each")
        config = os.path.join(tmp, "pushgate-controller.toml")
        with open(config, "w") as f:
            f.write(text)
        os.chmod(config, 0o644)
        files = {config_name: config, next(iter(compose["secrets"])): token}
        prefix = f"{NAME}-controller"
        gateway = Container(compose, "gateway", f"{prefix}-gateway", volume_prefix=prefix, files=files)
        sync = Container(compose, "sync", f"{prefix}-sync", volume_prefix=prefix, files=files)
        reaper = Container(compose, "reaper", f"{prefix}-reaper", volume_prefix=prefix, files=files)
        containers.extend([gateway, sync, reaper])
        port = gateway.ports[22]
        gateway.start()
        gateway.wait_for_ssh(port)
        sync.start()
        reaper.start()
        for sidecar in (sync, reaper):
            expect_git_user_without_capabilities(sidecar)
        if "pushgate_sync" not in metrics(sync, sync.ports[9465]):
            fail("the sync sidecar's metrics have no pushgate_sync series")
        # The reaper once more as the pod runs it: its securityContext (no
        # root, read-only root file system, no capabilities) from the start.
        pod_reaper = Container(compose, "reaper", f"{prefix}-pod-reaper", volume_prefix=prefix, files=files,
                               extra=pod_security_flags("reaper"))
        containers.append(pod_reaper)
        pod_reaper.start()
        if "pushgate_reaper" not in metrics(pod_reaper, pod_reaper.ports[9464]):
            fail("the reaper under the pod's securityContext serves no pushgate_reaper series")
        expect_git_user_without_capabilities(pod_reaper)
        pod_reaper.remove()

        known_hosts = os.path.join(tmp, "known_hosts_controller")
        pusher.commits = 0
        first = pusher.push(port, known_hosts, strict=False)
        if first.returncode != 0 or "-----> Built" not in first.stderr:
            fail(f"the controller-mode push did not build:\n{first.stderr}\n{gateway.logs()}")
        log("controller mode: a push built on the controller")

        # A rolling update: preStop drains and waits, then SIGTERM.
        in_flight_log = os.path.join(tmp, "in-flight.log")
        with open(in_flight_log, "w") as out:
            in_flight = pusher.push(port, known_hosts, strict=True, output=out)
            deadline = time.monotonic() + 60
            while "-----> Building" not in open(in_flight_log).read():
                if time.monotonic() > deadline or in_flight.poll() is not None:
                    fail(f"the second push did not reach its build:\n{open(in_flight_log).read()}")
                time.sleep(0.2)
            drained = gateway.exec(*PRE_STOP, check=False)
            engine("stop", gateway.name, timeout=120)
            in_flight.wait(timeout=120)
        output = open(in_flight_log).read()
        if drained.returncode != 0 or in_flight.returncode != 0 or "-----> Built" not in output:
            fail(f"the preStop drain and SIGTERM did not let the push in flight finish (drain: "
                 f"{drained.returncode} {drained.stderr.strip()}; push: {in_flight.returncode}):\n{output}")
        log("controller mode: drain and SIGTERM let the push in flight finish")
    finally:
        fake.terminate()
        fake.wait(timeout=30)


containers = []


def main():
    compose = merged_compose("docker/compose.yaml")
    ensure_base_image()
    started = time.monotonic()
    engine("build", *BUILD_FLAGS, "-f", os.path.join(SRC, "docker/Dockerfile"), "-t", IMAGE, SRC, timeout=3600)
    image, base = image_mb(IMAGE), image_mb(BASE_IMAGE)
    log(f"built with {ENGINE} in {time.monotonic() - started:.0f} s: {image:.0f} MB, "
        f"{image - base:.0f} MB over its base ({base:.0f} MB)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pusher = Pusher(tmp)
            standalone(compose, pusher, tmp)
            sshd_without_root(compose, pusher, tmp)
            controller_mode(pusher, tmp)
    finally:
        for container in containers:
            container.remove()
        volumes = engine("volume", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        for volume in volumes:
            if volume.startswith(NAME + "-"):
                engine("volume", "rm", "-f", volume, check=False)
        engine("rmi", "-f", IMAGE, check=False)
    log("ok")


main()
