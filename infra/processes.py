"""Process tools for the deployments: each takes what differs (host, user, timeout) as an
argument, and a failed step raises StepFailed with the end of its output."""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from infra.paths import ROOT


class StepFailed(Exception):
    """A step of bringing a deployment up or down failed; the message says which and why."""


def log(message: str) -> None:
    print(message, flush=True)


def run(
    command: list,
    *,
    env: dict | None = None,
    cwd: Path = ROOT,
    timeout: float = 600,
    tail: int = 25,
    input: bytes | None = None,
) -> str:
    """Run a command to completion (fed `input`, if any) and return its output; on failure
    raise with the end of what it said."""
    result = subprocess.run(
        [str(part) for part in command],
        env=env,
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    stdout = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        said = (stdout + result.stderr.decode(errors="replace")).strip().splitlines()[-tail:]
        raise StepFailed(f"`{' '.join(map(str, command))}` failed:\n  " + "\n  ".join(said))
    return stdout


def wait_until(ready: Callable[[], bool], *, seconds: float, interval: float = 0.2) -> bool:
    """Poll `ready` until it is true (True) or `seconds` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(interval)
    return False


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log, as a paragraph for an error message ("" if there is none)."""
    if not path.exists():
        return ""
    end = path.read_text(errors="replace").splitlines()[-lines:]
    return f"\nEnd of {path}:\n  " + "\n  ".join(end)


def port_open(host: str, port: int, *, timeout: float = 0.5) -> bool:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def http_json(url: str, *, timeout: float = 2) -> tuple[int | None, dict]:
    """GET url; return (status, parsed JSON body); (None, {}) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return None, {}


def http_ok(url: str, *, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int, program: str | None = None) -> bool:
    """Whether pid is a live (not zombie) process whose command line holds `program`.

    The program word keeps a recycled pid from being taken for the process a pid file named.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    # An empty command line on a live process: it is between a wrapper (nsenter, setpriv) and
    # the exec of its program, and the pid is already the program's.
    return program is None or not cmdline or program in cmdline


def give_to(user: str, path: Path) -> None:
    """Make `user` own `path` and everything under it (servers that refuse to run as root)."""
    if os.geteuid() != 0:
        return
    account = pwd.getpwnam(user)
    os.chown(path, account.pw_uid, account.pw_gid)
    for directory, _subdirectories, files in os.walk(path):
        os.chown(directory, account.pw_uid, account.pw_gid)
        for name in files:
            os.chown(Path(directory) / name, account.pw_uid, account.pw_gid)


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL's bin directory (15 on Debian 12, 17 on 13), if any."""
    candidates = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    candidates.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def render(template: Path, values: dict) -> str:
    """Fill {{ NAME }} placeholders; a line holding a list placeholder repeats once per item."""
    lines = []
    for line in template.read_text().splitlines(keepends=True):
        names = re.findall(r"{{ (\w+) }}", line)
        repeated = [name for name in names if isinstance(values.get(name), list)]
        items = values[repeated[0]] if repeated else [None]
        for item in items:
            text = line
            for name in names:
                if name not in values:
                    raise StepFailed(f"{template}: no value for {{{{ {name} }}}}")
                value = item if name in repeated else values[name]
                text = text.replace(f"{{{{ {name} }}}}", str(value))
            lines.append(text)
    return "".join(lines)
