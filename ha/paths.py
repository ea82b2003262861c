"""Where `make ha` keeps everything it makes: var/ha/, removed whole by `make ha-down`."""

import os
from pathlib import Path

from infra.paths import ROOT, VAR

DEPLOY = ROOT / "deploy" / "ha"  # the topology and the templates
# HA_TOPOLOGY names another file: a second deployment on the same machine (other names,
# subnet and ports), or the real machines' addresses.
TOPOLOGY_FILE = Path(os.environ.get("HA_TOPOLOGY") or DEPLOY / "topology.toml").resolve()

STATE = VAR / "ha"
RUN = STATE / "run"  # pid files
LOGS = STATE / "logs"
HOSTS = STATE / "hosts"  # one directory per host: its rendered configs and data
SECRETS = STATE / "secrets.json"  # database passwords made by `up`, mode 0600
STATIC_ROOT = STATE / "static"
MEDIA_ROOT = STATE / "media"
MAIL = STATE / "mail"
# Kept by `ha down`: Patroni's install (a download, not data) and the drills' last results.
PATRONI_LIB = STATE / "patroni"
DRILLS_JSON = STATE / "drills.json"
KEPT = (PATRONI_LIB, DRILLS_JSON)
PATRONI_REQUIREMENTS = ROOT / "ha" / "requirements-patroni.txt"
DEBIAN_REQUIREMENTS = ROOT / "ha" / "requirements-debian.txt"
