"""The app tier on Docker Swarm across the HA hosts (issue 13), when hosts have the "swarm" role.

    build_image(topology)   the base (debootstrap, imported), the wheelhouse (pip wheel on this
                            machine), the app image (deploy/ha/swarm/Dockerfile, no network in
                            the build); each cached in var/ha-images, which `ha down` keeps
    start(topology, secrets)  a dockerd per "swarm" host, one swarm (every node a manager: raft
                            quorum survives one host), the image loaded on each node (no
                            registry), the stack (deploy/ha/swarm/stack.yml) deployed
    stop(topology)          the stack, the swarm, the dockerds and their state (not the images)
    status(topology)        the nodes, services and tasks per node
    docker(host, *args)     the docker CLI against that host's dockerd

On one machine each dockerd runs in its host's namespace (nsenter --net, and its own UTS
namespace so that the node is called after its host), with its own data and exec roots and
socket under var/ha/swarm/HOST/, no iptables of its own and no default bridge. Containers sit on
the overlay network `shop` and leave through docker_gwbridge, masqueraded to the host's address
(a rule in the host's namespace), so they reach HAProxy at the floating address, the Redis
nodes and the sentinels on the hosts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

from ha import configs, hosts
from ha.paths import DEPLOY, MAIL, MEDIA_ROOT, ROOT, STATE
from ha.topology import Host, Topology
from infra import processes
from infra.paths import VAR
from infra.processes import render

SWARM_DEPLOY = DEPLOY / "swarm"
DOCKERFILE = SWARM_DEPLOY / "Dockerfile"
STACK_TEMPLATE = SWARM_DEPLOY / "stack.yml"
BALANCER_TEMPLATE = SWARM_DEPLOY / "haproxy.cfg"
SWARM_STATE = STATE / "swarm"  # per host: dockerd's data, exec root and socket; the stack
IMAGES = VAR / "ha-images"  # kept by `ha down`: the base, the wheelhouse, the image
STACK = "shop"
BASE_IMAGE = "shop-base:bookworm"
APP_IMAGE = "shop-app"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "curl", "ca-certificates", "haproxy")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_ONLY = ("# The image's Python (Debian 12's 3.11.2) only", "async-timeout==5.0.1  # redis-py")
# Never copied into the image: the machine's state, the virtualenv, docs, tests and the tools
# that run beside the app (the app imports none of them), so that editing those keeps the image.
NOT_IN_IMAGE = (
    "var",
    ".venv",
    ".git",
    "docs",
    "tests",
    "deploy",
    "bench",
    "drills",
    "cluster",
    "ha",
    "nginx",
)
# The machine's own variables in app_environment: a container has its own.
HOST_ONLY = ("PATH", "HOME", "TMPDIR", "STATIC_ROOT")
WEB_SLOTS = 10  # server-template slots in each balancer: the most web tasks it can address
PROGRAMS = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "debootstrap": "debootstrap",
    "iptables": "iptables",
}


class SwarmError(Exception):
    """A step of the Swarm deployment failed; the message says which command and what it said."""


def log(message: str) -> None:
    print(message, flush=True)


def enabled(topology: Topology) -> bool:
    return bool(topology.hosts_with("swarm"))


def missing_packages() -> list[str]:
    return sorted({package for program, package in PROGRAMS.items() if not shutil.which(program)})


# --- Small tools ----------------------------------------------------------------------------


def _run(command: list, *, input: bytes | None = None, timeout: float = 600, env=None) -> str:
    """infra's run, failing as a SwarmError."""
    try:
        return processes.run(command, input=input, timeout=timeout, env=env, tail=15)
    except processes.StepFailed as error:
        raise SwarmError(str(error)) from None


def host_dir(host: Host) -> Path:
    return SWARM_STATE / host.name


def socket_path(host: Host) -> Path:
    return host_dir(host) / "docker.sock"


def docker(host: Host, *arguments, input: bytes | None = None, timeout: float = 120) -> str:
    """Run the docker CLI against this host's dockerd; return its output."""
    command = ["docker", "-H", f"unix://{socket_path(host)}", *arguments]
    return _run(command, input=input, timeout=timeout, env={**os.environ, "DOCKER_CONFIG": "/"})


def _timed(what: str, started: float) -> float:
    seconds = time.monotonic() - started
    log(f"  {what} ({seconds:.0f} s)")
    return seconds


# --- The image ------------------------------------------------------------------------------


def debian_mirror(sources: list[Path] | None = None) -> str:
    """The machine's own Debian mirror, from /etc/apt/sources.list(.d): the one apt already uses."""
    if sources is None:
        sources = [
            Path("/etc/apt/sources.list"),
            *sorted(Path("/etc/apt/sources.list.d").glob("*")),
        ]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        # deb822 (.sources): "URIs: http://deb.debian.org/debian"; one-line: "deb URL suite ..."
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            url = match.group(1)
            if "security" not in url and "/debian" in url:
                return url
    raise SwarmError("no Debian mirror in /etc/apt/sources.list*: debootstrap needs one")


def image_requirements() -> str:
    """requirements.txt, the app's lock (the tools' is requirements-dev.txt), and the image's own.

    requirements.txt is compiled on the developers' Python (3.11.7); the image runs Debian 12's
    3.11.2, on which redis-py also needs async-timeout (its marker: python_full_version < 3.11.3).
    """
    text = (ROOT / "requirements.txt").read_text()
    return text + "".join(f"{line}\n" for line in IMAGE_ONLY)


def base_tarball() -> Path:
    """The debootstrap'd root file system as a tar, made once (about 4 minutes) and kept."""
    tarball = IMAGES / f"base-{SUITE}-{_digest(' '.join(BASE_PACKAGES))}.tar"
    if tarball.exists():
        return tarball
    IMAGES.mkdir(parents=True, exist_ok=True)
    rootfs = IMAGES / "rootfs.partial"
    shutil.rmtree(rootfs, ignore_errors=True)
    started = time.monotonic()
    log(f"  debootstrap {SUITE} (minbase + {', '.join(BASE_PACKAGES)}) from {debian_mirror()}")
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
    _run([*command, SUITE, rootfs, debian_mirror()], timeout=1200)
    (rootfs / "var" / "cache" / "apt" / "archives").mkdir(parents=True, exist_ok=True)
    for package in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        package.unlink()
    partial = tarball.with_suffix(".partial")
    _run(["tar", "-C", rootfs, "--numeric-owner", "-cf", partial, "."], timeout=600)
    partial.rename(tarball)
    shutil.rmtree(rootfs)
    _timed(f"base file system {tarball.relative_to(ROOT)}", started)
    return tarball


def wheelhouse() -> Path:
    """The image's wheels, built here with pip (which reaches the package index), kept."""
    requirements = image_requirements()
    constraints = ROOT / "requirements.txt"
    wheels = IMAGES / "wheels"
    stamp = wheels / "made-from.txt"  # what the wheels were made from: rebuilt when it changes
    made_from = requirements + constraints.read_text()
    if stamp.exists() and stamp.read_text() == made_from:
        return wheels
    started = time.monotonic()
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    pinned = IMAGES / "requirements-image.txt"
    pinned.write_text(requirements)
    # Debian 12's python3 is 3.11, as this virtualenv's: the cp311 wheels fit the image.
    command = [
        Path(sys.executable),
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--disable-pip-version-check",
    ]
    # Each at the version requirements.txt pins (async-timeout, which it lacks, at IMAGE_ONLY's).
    _run([*command, "-r", pinned, "-c", constraints, "-w", wheels], timeout=900)
    stamp.write_text(made_from)
    _timed(
        f"wheelhouse {wheels.relative_to(ROOT)} ({len(list(wheels.glob('*.whl')))} wheels)", started
    )
    return wheels


def code_files() -> list[str]:
    """The repository's files (tracked, and new ones git does not ignore) the image needs."""
    output = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"])
    names = [name for name in output.split("\0") if name]
    return sorted(
        name for name in names if name.split("/")[0] not in NOT_IN_IMAGE and (ROOT / name).is_file()
    )


def build_context(wheels: Path) -> bytes:
    """The docker build context as a tar: Dockerfile, wheels/, requirements.txt, code/.

    Times and owners are fixed, so the same inputs give the same bytes (and the same tag).
    """
    buffer = io.BytesIO()

    def add(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 0
        archive.addfile(info, io.BytesIO(data))

    with tarfile.open(fileobj=buffer, mode="w") as archive:
        add(archive, "Dockerfile", DOCKERFILE.read_bytes())
        add(archive, "requirements.txt", image_requirements().encode())
        for wheel in sorted(wheels.glob("*.whl")):
            add(archive, f"wheels/{wheel.name}", wheel.read_bytes())
        for name in code_files():
            path = ROOT / name
            add(
                archive,
                f"code/{name}",
                path.read_bytes(),
                0o755 if os.access(path, os.X_OK) else 0o644,
            )
    return buffer.getvalue()


def build_image(topology: Topology) -> str:
    """Make the app image on the first swarm node and load it on the others; return its id.

    The tag is a digest of the build context, so an unchanged tree reuses the saved image. The
    services name the image by its id (sha256:..., the same on every node after docker load):
    given a tag, each node's agent first tries to pull it from Docker Hub, and here that waits
    30 s for a DNS timeout before every task start (--resolve-image never does not stop it).
    """
    first, *others = topology.hosts_with("swarm")
    started = time.monotonic()
    base = base_tarball()
    wheels = wheelhouse()
    context = build_context(wheels)
    tag = f"{APP_IMAGE}:{hashlib.sha256(context).hexdigest()[:12]}"
    saved = IMAGES / f"{tag.replace(':', '-')}.tar"
    if saved.exists():
        log(f"  image {tag}: saved in {saved.relative_to(ROOT)}")
    else:
        step = time.monotonic()
        docker(first, "import", "--change", f"ENV PATH={PATH}", base, BASE_IMAGE, timeout=600)
        _timed(f"docker import {BASE_IMAGE} on {first.name}", step)
        step = time.monotonic()
        docker(
            first, "build", "--network", "none", "-q", "-t", tag, "-", input=context, timeout=900
        )
        _timed(f"docker build {tag} ({len(context) // 2**20} MB context, no network)", step)
        step = time.monotonic()
        partial = saved.with_suffix(".partial")
        docker(first, "save", "-o", partial, tag, timeout=600)
        partial.rename(saved)
        for old in IMAGES.glob(f"{APP_IMAGE}-*.tar"):
            if old != saved:
                old.unlink()
        _timed(f"docker save ({saved.stat().st_size // 2**20} MB)", step)
    missing = [host for host in [first, *others] if not docker(host, "images", "-q", tag).strip()]
    if missing:
        step = time.monotonic()
        with ThreadPoolExecutor(len(missing)) as pool:  # one node's load need not wait for another
            list(
                pool.map(lambda host: docker(host, "load", "-q", "-i", saved, timeout=600), missing)
            )
        _timed(f"docker load on {', '.join(h.name for h in missing)}, at once", step)
    _timed(f"image {tag} on {', '.join(h.name for h in [first, *others])}", started)
    return docker(first, "image", "inspect", "-f", "{{.Id}}", tag).strip()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# --- The daemons and the swarm --------------------------------------------------------------


def dockerd_name(host: Host) -> str:
    return f"{host.name}-dockerd"


def start_dockerd(host: Host) -> None:
    directory = host_dir(host)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "daemon.json"
    config.write_text(json.dumps({"log-driver": "json-file", "log-opts": {"max-size": "10m"}}))
    command = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none"]
    command += ["--config-file", config, "--data-root", directory / "data"]
    command += ["--exec-root", directory / "exec", "-H", f"unix://{socket_path(host)}"]
    command += ["--pidfile", directory / "dockerd.pid"]
    command += ["--containerd-namespace", host.name]
    command += ["--containerd-plugins-namespace", f"{host.name}-plugins"]
    # Its own UTS namespace, so that the swarm node carries the host's name.
    shell = f"hostname {host.name} && exec {' '.join(map(str, command))}"
    hosts.run_in(
        host,
        ["unshare", "--uts", "sh", "-c", shell],
        name=dockerd_name(host),
        program="dockerd",
    )
    # Containers leave through docker_gwbridge; dockerd has no iptables here, so the host
    # masquerades them itself (in its own namespace: the machine's tables are not touched).
    _in_host(host, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    rule = ["POSTROUTING", "-o", hosts.IFACE, "!", "-s", host.address, "-j", "MASQUERADE"]
    if subprocess.run(
        _nsenter(host, ["iptables", "-t", "nat", "-C", *rule]), capture_output=True
    ).returncode:
        _in_host(host, ["iptables", "-t", "nat", "-A", *rule])


def _nsenter(host: Host, command: list) -> list[str]:
    return ["nsenter", f"--net={hosts.NETNS_DIR / host.name}", *map(str, command)]


def _in_host(host: Host, command: list) -> str:
    return _run(_nsenter(host, command))


def _answers(host: Host) -> bool:
    try:
        docker(host, "version", "-f", "{{.Server.Version}}", timeout=5)
    except (SwarmError, subprocess.TimeoutExpired):
        return False
    return True


def wait(what: str, ready, *, seconds: float, names: list[str] = ()) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        dead = [name for name in names if not hosts.running(name)]
        if dead:
            break
        time.sleep(0.5)
    tails = []
    for name in names:
        path = hosts.logfile(name)
        if path.exists():
            tails.append(f"End of {path}:\n  " + "\n  ".join(path.read_text().splitlines()[-10:]))
    raise SwarmError(f"{what}: not ready within {seconds:.0f} s" + "".join(f"\n{t}" for t in tails))


# docker_gwbridge made by hand, before the swarm: its gateway, the node's own namespace, has one
# address on every node, at which a task reaches its node's pgbouncer.
GWBRIDGE_SUBNET = "172.30.0.0/16"
NODE_FROM_A_TASK = "172.30.0.1"


def make_gwbridge(host: Host) -> None:
    if "docker_gwbridge" in docker(host, "network", "ls", "--format", "{{.Name}}").split():
        return
    docker(
        host,
        "network",
        "create",
        "--driver",
        "bridge",
        "--subnet",
        GWBRIDGE_SUBNET,
        "--gateway",
        NODE_FROM_A_TASK,
        "-o",
        "com.docker.network.bridge.name=docker_gwbridge",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "docker_gwbridge",
    )


def form_swarm(topology: Topology) -> None:
    """Init on the first node, join the others as managers, label the app nodes."""
    first, *others = topology.hosts_with("swarm")
    for host in topology.hosts_with("swarm"):
        make_gwbridge(host)
    docker(
        first,
        "swarm",
        "init",
        "--advertise-addr",
        first.address,
        "--listen-addr",
        f"{first.address}:2377",
    )
    token = docker(first, "swarm", "join-token", "-q", "manager").strip()
    for host in others:
        docker(
            host,
            "swarm",
            "join",
            "--token",
            token,
            "--advertise-addr",
            host.address,
            "--listen-addr",
            f"{host.address}:2377",
            f"{first.address}:2377",
        )
    for host in topology.hosts_with("swarm"):
        label = "true" if "app" in host.roles else "false"
        docker(first, "node", "update", "--label-add", f"shop.app={label}", host.name)


# --- The stack ------------------------------------------------------------------------------


def container_environment(topology: Topology, secrets: dict[str, str]) -> dict[str, str]:
    """configs.app_environment for the containers: without the machine's own PATH, HOME, ...;
    the leader through the pgbouncer of the node a task runs on (at docker_gwbridge's gateway)."""
    node = Host("the task's node", NODE_FROM_A_TASK, ("app",))
    environment = configs.app_environment(topology, secrets, replica="swarm", host=node)
    for name in HOST_ONLY:
        environment.pop(name, None)
    return environment


def write_environment_file(path: Path, environment: dict[str, str]) -> Path:
    """docker's env file format (NAME=value a line), readable by root only: it holds passwords."""
    path.touch(mode=0o600)
    path.write_text("".join(f"{name}={value}\n" for name, value in sorted(environment.items())))
    return path


def web_replicas(topology: Topology) -> int:
    return max(3, len(topology.hosts_with("app")))


def stack_config(topology: Topology, *, image: str, env_file: Path, balancer_cfg: Path) -> str:
    digest = _digest(balancer_cfg.read_text()) if balancer_cfg.exists() else "none"
    values = {
        "BALANCER_CONFIG_NAME": f"{STACK}_balancer_{digest}",
        "IMAGE": image,
        "ENV_FILE": str(env_file),
        "APP_PORT": topology.ports.app,
        "WEB_REPLICAS": web_replicas(topology),
        "WORKER_REPLICAS": len(topology.hosts_with("app")),
        "MEDIA_ROOT": str(MEDIA_ROOT),
        "MAIL": str(MAIL),
        "BALANCER_CFG": str(balancer_cfg),
    }
    return render(STACK_TEMPLATE, values)


def balancer_config(topology: Topology) -> str:
    values = {"APP_PORT": topology.ports.app, "WEB_SLOTS": WEB_SLOTS, "WEB_SERVICE": "web"}
    return render(BALANCER_TEMPLATE, values)


def deploy_stack(topology: Topology, image: str, secrets: dict[str, str]) -> None:
    manager = topology.hosts_with("swarm")[0]
    balancer_cfg = SWARM_STATE / "haproxy.cfg"
    balancer_cfg.write_text(balancer_config(topology))
    stack = SWARM_STATE / "stack.yml"
    stack.write_text(
        stack_config(
            topology,
            image=image,
            env_file=write_environment_file(
                SWARM_STATE / "app.env", container_environment(topology, secrets)
            ),
            balancer_cfg=balancer_cfg,
        )
    )
    docker(manager, "stack", "deploy", "--resolve-image", "never", "-c", stack, STACK)


def services(topology: Topology) -> dict[str, tuple[int, int]]:
    """Each service of the stack: (running tasks, desired tasks)."""
    manager = manager_host(topology)
    output = docker(manager, "service", "ls", "--format", "{{.Name}} {{.Replicas}}")
    found = {}
    for line in output.splitlines():
        name, replicas = line.split()[:2]
        running, desired = replicas.split("/")
        found[name.removeprefix(f"{STACK}_")] = (int(running), int(desired))
    return found


def tasks(topology: Topology, service: str) -> list[dict]:
    """The running tasks of a service: node, name, state, and the container's health."""
    manager = manager_host(topology)
    output = docker(
        manager,
        "service",
        "ps",
        f"{STACK}_{service}",
        "--filter",
        "desired-state=running",
        "--format",
        "{{json .}}",
    )
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def running_tasks(topology: Topology, service: str) -> dict[str, list[str]]:
    """Each node's running tasks (their ids) of a service, as a manager that answers sees them.

    A task counts once Swarm says Running: for web, that is once its health check has passed.
    """
    found: dict[str, list[str]] = {}
    for task in tasks(topology, service):
        if task.get("CurrentState", "").startswith("Running"):
            found.setdefault(task["Node"], []).append(task["ID"])
    return found


def node_state(topology: Topology, host: Host) -> str:
    """The node's state as the swarm sees it: ready, down, unknown."""
    manager = manager_host(topology)
    return docker(manager, "node", "inspect", "-f", "{{.Status.State}}", host.name).strip()


def update_state(topology: Topology, service: str) -> str:
    """The last rolling update's state (completed, rollback_completed, ...), "" if none."""
    template = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
    output = docker(
        manager_host(topology), "service", "inspect", "-f", template, f"{STACK}_{service}"
    )
    return output.strip()


def manager_host(topology: Topology) -> Host:
    """A swarm node whose host is on the network and whose dockerd answers."""
    for host in topology.hosts_with("swarm"):
        if not hosts.is_cut(host) and hosts.running(dockerd_name(host)) and _answers(host):
            return host
    raise SwarmError("no swarm manager answers")


def converged(topology: Topology) -> bool:
    """Every service runs its desired tasks, and no rolling update of web is under way."""
    try:
        found = services(topology)
        updating = update_state(topology, "web") in ("updating", "rollback_started")
    except SwarmError:
        return False
    return (
        bool(found)
        and all(running == desired for running, desired in found.values())
        and not updating
    )


def healthy_web(topology: Topology) -> int:
    """How many web containers report healthy, over every node that answers."""
    count = 0
    for host in topology.hosts_with("swarm"):
        if hosts.is_cut(host) or not _answers(host):
            continue
        output = docker(
            host,
            "ps",
            "--filter",
            f"label=com.docker.swarm.service.name={STACK}_web",
            "--filter",
            "health=healthy",
            "-q",
        )
        count += len(output.split())
    return count


def scale(topology: Topology, **replicas: int) -> None:
    arguments = [f"{STACK}_{name}={number}" for name, number in replicas.items()]
    docker(manager_host(topology), "service", "scale", "--detach", *arguments)


def update_web(topology: Topology, *arguments: str, timeout: float = 300) -> str:
    """`docker service update` on web; wait for the rolling update to end, return its state.

    Ended: completed, or rolled back (rollback_completed) or paused after a failed task. The CLI's
    own wait returns once the tasks have converged, before the monitor window has passed.
    """
    command = ["service", "update", "--detach", "--quiet", *arguments, f"{STACK}_web"]
    docker(manager_host(topology), *command, timeout=60)
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        try:
            state = update_state(topology, "web")
        except SwarmError:
            state = ""
        if state in ("completed", "rollback_completed", "paused", "rollback_paused"):
            return state
        time.sleep(1)
    raise SwarmError(f"web's rolling update did not end within {timeout:.0f} s ({state!r})")


# --- Up, down, status -----------------------------------------------------------------------


def start(topology: Topology, secrets: dict[str, str]) -> None:
    """dockerd on each swarm host, the swarm, the image on each node, the stack; wait for web."""
    missing = missing_packages()
    if missing:
        raise SwarmError(f"Missing {', '.join(missing)}: apt-get install -y {' '.join(missing)}")
    started = time.monotonic()
    SWARM_STATE.mkdir(parents=True, exist_ok=True)
    swarm_hosts = topology.hosts_with("swarm")
    for host in swarm_hosts:
        start_dockerd(host)
    for host in swarm_hosts:
        wait(
            f"dockerd on {host.name}",
            lambda host=host: _answers(host),
            seconds=60,
            names=[dockerd_name(host)],
        )
    _timed(f"dockerd on {', '.join(h.name for h in swarm_hosts)}", started)
    step = time.monotonic()
    form_swarm(topology)
    _timed(f"swarm of {len(swarm_hosts)} managers", step)
    image = build_image(topology)
    step = time.monotonic()
    deploy_stack(topology, image, secrets)
    wait("the stack's services", lambda: converged(topology), seconds=180)
    wait(
        "web's tasks healthy",
        lambda: healthy_web(topology) >= web_replicas(topology),
        seconds=120,
    )
    _timed(f"stack {STACK}: {describe_services(topology)}", step)
    _timed("the app tier on Swarm", started)


def describe_services(topology: Topology) -> str:
    return ", ".join(
        f"{name} {running}/{desired}"
        for name, (running, desired) in sorted(services(topology).items())
    )


def process_names(topology: Topology) -> list[str]:
    return [dockerd_name(host) for host in topology.hosts_with("swarm")]


def stop(topology: Topology) -> list[str]:
    """Remove the stack, leave the swarm, stop each dockerd, unmount and delete their state."""
    said = []
    running = [h for h in topology.hosts_with("swarm") if hosts.running(dockerd_name(h))]
    for host in running:
        if hosts.is_cut(host):
            hosts.reconnect(host)
    if running:
        with suppress(SwarmError, subprocess.TimeoutExpired):
            docker(running[0], "stack", "rm", STACK, timeout=30)
    for host in running:
        with suppress(SwarmError, subprocess.TimeoutExpired):
            docker(host, "swarm", "leave", "--force", timeout=30)
    # All at once: each dockerd stops its containers (SIGTERM, SIGKILL after 15 s) as it exits.
    for host in running:
        with suppress(ProcessLookupError):
            os.kill(hosts.pid_of(dockerd_name(host)), signal.SIGTERM)
    for host in running:
        hosts.stop(dockerd_name(host), seconds=40)
        said.append(dockerd_name(host))
    _unmount_under(SWARM_STATE)
    return said


def _unmount_under(directory: Path) -> None:
    """Unmount what dockerd left mounted under directory (overlays, network namespaces)."""
    prefix = str(directory.resolve()) + "/"
    mounts = [
        line.split()[1].encode().decode("unicode_escape")
        for line in Path("/proc/mounts").read_text().splitlines()
    ]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)


def status(topology: Topology) -> bool:
    """Print the nodes, the services and each service's tasks per node; return all converged."""
    try:
        manager = manager_host(topology)
    except SwarmError as error:
        log(f"\nSwarm: {error}")
        return False
    log("\nSwarm nodes:")
    nodes = docker(
        manager,
        "node",
        "ls",
        "--format",
        "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}",
    )
    for line in sorted(nodes.splitlines()):
        log(f"  {line}")
    found = services(topology)
    log("Swarm services (running/desired) and tasks per node:")
    for name, (running, desired) in sorted(found.items()):
        per_node = running_tasks(topology, name)
        where = ", ".join(f"{node} {len(ids)}" for node, ids in sorted(per_node.items()))
        log(f"  {name:<10}{running}/{desired}  {where}")
    return bool(found) and all(running == desired for running, desired in found.values())
