# The shop's commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SEED_PRODUCTS ?= 3000
WORKERS ?= 3

.DEFAULT_GOAL := help
.PHONY: help venv lock lock-check run serve test lint format migrate seed clean bench-cart bench bench-connections

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

# The app's lock and the tools' lock, both compiled by `make lock`: nothing unpinned goes in.
LOCKS := requirements.txt requirements-dev.txt

$(BIN)/.installed: $(LOCKS)
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian, apt-get install -y python3-venv"; exit 1; }
	$(BIN)/pip install --quiet "$$(grep -E '^pip==' requirements-dev.txt)"
	$(BIN)/pip install --quiet $(addprefix -r ,$(LOCKS))
	@touch $@

venv: $(BIN)/.installed ## Create the virtualenv from requirements.txt and requirements-dev.txt

# The locks name no index or wheel folder of this machine; the header's command is `make lock`.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras \
	--allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host

lock: venv ## Compile requirements*.txt from requirements*.in (keeps the pins it can; add --upgrade-package NAME via LOCK_ARGS)
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements-dev.txt requirements-dev.in

# Each lock is compiled again from its .in file, starting from its own pins, into a temporary
# copy: any difference means an .in file changed without `make lock` (or a lock by hand). It asks
# the package index about every package (about 40 s), so CI runs it beside `make lint`.
lock-check: venv ## Fail when requirements*.txt are not what requirements*.in compile to
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && status=0 && \
	for name in requirements requirements-dev; do \
		cp $$name.txt "$$tmp/$$name.txt" && \
		$(PIP_COMPILE) --output-file "$$tmp/$$name.txt" $$name.in 2>"$$tmp/stderr" \
			|| { grep -v 'is ignored' "$$tmp/stderr" >&2; exit 1; }; \
		diff -u $$name.txt "$$tmp/$$name.txt" || { status=1; \
			echo "$$name.txt is stale: run make lock and commit it" >&2; }; \
	done; exit $$status

migrate: venv ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput -v0

seed: migrate ## Seed the demo catalog (SEED_PRODUCTS, default 3000)
	$(BIN)/python manage.py seed_catalog --products $(SEED_PRODUCTS)

# Its absolute links (the API's `next`, e-mails) name the port it serves on (issue 12).
run: export SHOP_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: seed ## Serve the shop at http://127.0.0.1:8000 on embedded defaults (SQLite, a shared file cache)
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py ensure_operator
	@echo "Storefront: http://127.0.0.1:$(PORT)/   Admin: http://127.0.0.1:$(PORT)/admin/   API docs: http://127.0.0.1:$(PORT)/api/docs/"
	@# No broker, so no Celery beat: its schedule runs beside gunicorn and stops with it (issue 11).
	$(BIN)/python manage.py run_schedule & schedule=$$!; \
	trap 'kill $$schedule 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn config.wsgi --config config/gunicorn.py --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --access-logfile -

test: venv ## Run the whole test suite (PostgreSQL and Redis on 127.0.0.1 when reachable)
	$(BIN)/pytest $(PYTEST_ARGS)

# deptry's warning that it skips requirements-dev.in's `-c requirements.txt` is silenced: as meant.
lint: venv ## ruff, mypy, deptry, migrations up to date, import layers, a valid OpenAPI schema, deploy checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/deptry .
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/deptry shop catalog carts orders config \
		--requirements-files requirements.in --requirements-files-dev requirements-dev.in \
		--extend-exclude '.*/tests/'
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run -v0
	$(BIN)/lint-imports --no-cache
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	SHOP_PRODUCTION=1 DJANGO_SECRET_KEY=lint-only-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
		DJANGO_ALLOWED_HOSTS=shop.example DATABASE_URL=sqlite:///:memory: \
		EMAIL_URL=smtp+tls://shop@mail.example:587 SHOP_PUBLIC_URL=https://shop.example \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

format: venv ## Format and auto-fix the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-cart: venv ## Benchmark cart reads and adds against a local gunicorn (PostgreSQL + Redis)
	$(BIN)/python -m bench.cart_bench

bench-connections: venv ## PostgreSQL connections per app replica without and with pgbouncer (the cluster)
	$(BIN)/python -m bench.connections $(BENCH_ARGS)

bench: venv ## Locust against the cluster, report in bench/results/ and docs/bench/ (GROWTH=1: 1M products)
	$(BIN)/python -m bench.run_bench $(if $(filter 1,$(GROWTH)),--growth) $(BENCH_ARGS)

clean: ## Remove the virtualenv, the SQLite database and generated files
	rm -rf $(VENV) db.sqlite3 var test-artifacts

# --- The cluster: PostgreSQL primary + replica, Redis, N app replicas, Celery, nginx (issue 5) --
N ?= 3
.PHONY: cluster cluster-down cluster-status cluster-test cluster-clean

cluster: venv ## Start the whole cluster on 127.0.0.1 under var/cluster (N app replicas, default 3)
	$(BIN)/python -m cluster.cluster up --replicas $(N)

cluster-down: ## Stop every process of the cluster; its data stays for the next start
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m cluster.cluster down; else python3 -m cluster.cluster down; fi

cluster-status: ## List the cluster's processes: name, pid, address, running or dead
	@$(BIN)/python -m cluster.cluster status

cluster-test: cluster ## Start the cluster if needed, then run tests/cluster against it through nginx
	$(BIN)/pytest tests/cluster -p no:cacheprovider -o addopts="" -ra --strict-markers $(PYTEST_ARGS)

cluster-clean: ## Stop the cluster and delete var/cluster (databases, logs, everything)
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m cluster.cluster clean; else rm -rf var/cluster; fi

.PHONY: drills
drills: venv ## Fault drills: break the cluster under load, check nothing was lost (drills/results/)
	$(BIN)/python -m drills.run_drills $(DRILLS_ARGS)

# --- High availability across hosts: namespaces, etcd, Patroni, HAProxy (issue 13) ----------
# HA_TOPOLOGY=deploy/ha/topology-swarm.toml: the app tier on Docker Swarm (the ha-swarm targets).
.PHONY: ha ha-down ha-status ha-drills ha-test ha-swarm ha-swarm-drills
HA_SWARM_TOPOLOGY := deploy/ha/topology-swarm.toml
HA_SWARM_DRILLS := app-host-cut rolling-update

ha: venv ## Start the HA deployment: 3 hosts (namespaces): etcd, Patroni + PostgreSQL, Redis + Sentinel, HAProxy + keepalived (10.77.0.100), pgbouncer + the app + Celery
	$(BIN)/python -m ha up

ha-down: ## Remove everything `make ha` (or ha-swarm) made: processes, namespaces, bridge, var/ha
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m ha down; else python3 -m ha down; fi

ha-status: ## The HA deployment's processes, hosts, Patroni members, the Redis master, the floating address
	@$(BIN)/python -m ha status

ha-drills: venv ## Break the HA deployment under load, one engine at a time: var/ha/drills.json
	$(BIN)/python -m ha drills $(HA_DRILLS_ARGS)

ha-test: ha ## Start the HA deployment if needed, then run tests/ha against it
	$(BIN)/pytest tests/ha -p no:cacheprovider -o addopts="" -ra --strict-markers $(PYTEST_ARGS)

ha-swarm: venv ## The same with the app tier on Docker Swarm (needs docker.io, debootstrap; builds the image once)
	HA_TOPOLOGY=$(HA_SWARM_TOPOLOGY) $(BIN)/python -m ha up

ha-swarm-drills: venv ## The Swarm tier's drills (an app host cut off, a rolling update): into var/ha/drills.json
	HA_TOPOLOGY=$(HA_SWARM_TOPOLOGY) $(BIN)/python -m ha drills --only $(HA_SWARM_DRILLS) $(HA_DRILLS_ARGS)
