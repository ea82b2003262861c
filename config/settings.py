"""The shop's settings: every value from the environment, with defaults that run on one machine.

With no environment at all: SQLite, a file cache shared by the processes, Celery tasks inline.
`DATABASE_URL`, `REDIS_URL` and `CELERY_BROKER_URL` switch to real services. The README lists
every variable.
"""

import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- Mode and secrets -----------------------------------------------------------------------
PRODUCTION = env.bool("SHOP_PRODUCTION", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY") if PRODUCTION else "dev-only-not-secret"
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "shop.apps.ShopAdminConfig",  # django.contrib.admin, sign-in limited (shop/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "knox",  # API tokens: expiring, one per sign-in, stored as SHA-512 digests
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "shop",
    "shop.accounts",
    "catalog",
    "carts",
    "orders",
]

MIDDLEWARE = [
    "shop.observability.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shop.db_router.ReadYourWritesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "shop.middleware.SessionKeepAliveMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shop.middleware.ShopErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.storefront",
                "carts.context_processors.cart_summary",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# "transaction": DATABASE_URL is a pgbouncer in transaction pooling (the cluster's), where a
# server connection is the client's only for a transaction: no server-side cursors, which
# outlive one (Django's own advice for transaction pooling).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif DATABASE_POOLER:
    raise ImproperlyConfigured("DATABASE_POOLER is 'transaction' or empty.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers write one file: take the write lock when a transaction begins
    # (no "database is locked" on upgrade), wait for it, and let readers go on beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# Streaming replicas for reads (comma-separated URLs; none: everything on the primary).
# shop/db_router.py sends reads there, writes and transactions to the primary.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
for _number, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    DATABASES[f"replica{_number}"] = {
        **env.db_url_config(_url),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
DATABASE_REPLICA_ALIASES = [f"replica{n}" for n in range(1, len(DATABASE_REPLICA_URLS) + 1)]
DATABASE_ROUTERS = ["shop.db_router.PrimaryReplicaRouter"]
# After a client writes, its reads go to the primary this long (a signed cookie carries it).
READ_YOUR_WRITES_SECONDS = env.int("READ_YOUR_WRITES_SECONDS", default=5)
# A replica further behind than this, or refusing connections, is skipped for REPLICA_RETRY.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_RETRY_SECONDS = env.int("REPLICA_RETRY_SECONDS", default=10)

# --- Cache ----------------------------------------------------------------------------------
# One Redis node (REDIS_URL), or a Sentinel group with automatic failover (issue 13):
# REDIS_SENTINELS=h1:26379,h2:26379,h3:26379 names the sentinels, which tell every process where
# the master of REDIS_SENTINEL_MASTER is now; the cache uses database REDIS_DB there, which holds
# nothing else: it is emptied after a failover. REDIS_SENTINELS takes precedence over REDIS_URL.
REDIS_URL = env.str("REDIS_URL", default="")


def _sentinel_address(entry: str) -> tuple[str, int]:
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit():
        raise ImproperlyConfigured(f"REDIS_SENTINELS takes host:port entries, not {entry!r}.")
    return host, int(port)


REDIS_SENTINELS = [_sentinel_address(entry) for entry in env.list("REDIS_SENTINELS", default=[])]
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="shop")
REDIS_DB = env.int("REDIS_DB", default=0)
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")  # the master's and replicas' requirepass
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")  # the sentinels' own
REDIS_ENABLED = bool(REDIS_URL or REDIS_SENTINELS)
# After each cart change, wait up to REDIS_WAIT_TIMEOUT_MS for this many replicas to hold it
# (Redis's WAIT), so that a failover right after the answer cannot lose the line from Redis's
# copy (replication is asynchronous). 1 under Sentinel, 0 (no wait) on a single node. While no
# replica is connected, every cart change waits the whole timeout.
REDIS_WAIT_REPLICAS = env.int("REDIS_WAIT_REPLICAS", default=1 if REDIS_SENTINELS else 0)
REDIS_WAIT_TIMEOUT_MS = env.int("REDIS_WAIT_TIMEOUT_MS", default=50)
_redis_options = {
    "SOCKET_CONNECT_TIMEOUT": 0.5,
    "SOCKET_TIMEOUT": 0.5,
    # A Redis outage degrades the catalog to database reads, never to errors.
    "IGNORE_EXCEPTIONS": True,
}
if REDIS_SENTINELS:
    _redis_options |= {
        # django-redis's own Sentinel support: each connection asks the sentinels for the master
        # and reconnects to the new one after a failover ("the previous master is now a slave").
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        # Its pool, which empties the cache database on the first use of a new master: the
        # promoted replica's copies predate what changed while no master answered.
        "CONNECTION_POOL_CLASS": "shop.cache_failover.FreshAfterFailoverPool",
        "SENTINELS": REDIS_SENTINELS,
        "SENTINEL_KWARGS": {
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
            **({"password": REDIS_SENTINEL_PASSWORD} if REDIS_SENTINEL_PASSWORD else {}),
        },
        **({"PASSWORD": REDIS_PASSWORD} if REDIS_PASSWORD else {}),
    }
    # The host part is the master's name in Sentinel. One location, the master's: reads from a
    # replica could miss a write made just before (a session just signed in, a token just
    # revoked), and SentinelClient would send them there given the plain string.
    _redis_location: str | list[str] = [f"redis://{REDIS_SENTINEL_MASTER}/{REDIS_DB}"]
else:
    _redis_options["CLIENT_CLASS"] = "django_redis.client.DefaultClient"
    _redis_location = REDIS_URL
if REDIS_ENABLED:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _redis_location,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="shop"),
            "OPTIONS": _redis_options,
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # No Redis (`make run`): every gunicorn worker, and any manage.py command, must see one cache,
    # or each keeps its own revoked tokens, catalog version and rate-limit counts (issue 11).
    # diskcache keeps it in SQLite files under CACHE_DIR, with no server to run; its add and incr
    # are each one BEGIN IMMEDIATE transaction, so atomic across processes, as django-ratelimit
    # needs. Django's DatabaseCache and FileBasedCache are not: their incr is a get, then a set.
    CACHES = {
        "default": {
            "BACKEND": "diskcache.djangocache.DjangoCache",
            "LOCATION": str(env.path("CACHE_DIR", default=BASE_DIR / "var" / "cache")),
        }
    }

# Seconds each kind of data lives in the cache (DESIGN.md); each is jittered by CACHE_TTL_JITTER.
CACHE_TTLS = {
    "product": env.int("CACHE_TTL_PRODUCT", default=5 * 60),
    "price": env.int("CACHE_TTL_PRICE", default=60),
    "session": env.int("CACHE_TTL_SESSION", default=30 * 60),
    "search": env.int("CACHE_TTL_SEARCH", default=2 * 60),
    "home": env.int("CACHE_TTL_HOME", default=10 * 60),
    "category": env.int("CACHE_TTL_CATEGORY", default=15 * 60),
    "guest_cart": env.int("CACHE_TTL_GUEST_CART", default=24 * 60 * 60),
}
CACHE_TTL_JITTER = env.float("CACHE_TTL_JITTER", default=0.1)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# REDIS_SENTINEL_BROKER_DB=1: the broker is database 1 of the Sentinel group of REDIS_SENTINELS
# (kombu's sentinel:// transport, which follows failovers), with CELERY_BROKER_URL unset: Celery
# reads that variable from the environment itself. A full "sentinel://h1:26379/1;sentinel://
# h2:26379/1" CELERY_BROKER_URL works too. Either way the master's name is REDIS_SENTINEL_MASTER.
_broker_db = env.str("REDIS_SENTINEL_BROKER_DB", default="")
if _broker_db:
    if CELERY_BROKER_URL or not REDIS_SENTINELS:
        raise ImproperlyConfigured(
            "REDIS_SENTINEL_BROKER_DB needs REDIS_SENTINELS, and CELERY_BROKER_URL unset."
        )
    if int(_broker_db) == REDIS_DB:
        # After a failover the cache's database is emptied (shop/cache_failover.py).
        raise ImproperlyConfigured("REDIS_SENTINEL_BROKER_DB must differ from REDIS_DB.")
    _broker_auth = f":{REDIS_PASSWORD}@" if REDIS_PASSWORD else ""
    CELERY_BROKER_URL = ";".join(
        f"sentinel://{_broker_auth}{host}:{port}/{int(_broker_db)}"
        for host, port in REDIS_SENTINELS
    )
if CELERY_BROKER_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "master_name": REDIS_SENTINEL_MASTER,
        "sentinel_kwargs": {
            "socket_connect_timeout": 0.5,
            "socket_timeout": 0.5,
            **({"password": REDIS_SENTINEL_PASSWORD} if REDIS_SENTINEL_PASSWORD else {}),
        },
    }
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL  # no broker: tasks run inline
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="shop")
CELERY_BEAT_SCHEDULE = {
    "delete-idle-carts": {"task": "carts.tasks.delete_idle_carts_task", "schedule": 15 * 60},
    "redeliver-events": {"task": "orders.tasks.redeliver_events_task", "schedule": 60},
    "resend-account-mail": {"task": "shop.accounts.tasks.resend_mail_task", "schedule": 60},
    "cancel-expired-orders": {"task": "orders.tasks.cancel_expired_orders_task", "schedule": 60},
    "reconcile-card-payments": {
        "task": "orders.tasks.reconcile_card_payments_task",
        "schedule": 60,
    },
    "delete-old-idempotency-keys": {
        "task": "orders.tasks.delete_old_idempotency_keys_task",
        "schedule": 60 * 60,
    },
    "delete-expired-tokens": {
        "task": "shop.accounts.tasks.delete_expired_tokens_task",
        "schedule": 60 * 60,
    },
}

# --- Accounts, sessions and passwords -------------------------------------------------------
AUTHENTICATION_BACKENDS = ["shop.accounts.backends.CachedModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
# Called with (request=, user=) right after every sign-in, storefront or API: the carts app
# merges the guest cart here. Wiring lives in config so that shop/ never imports carts/.
SIGN_IN_HOOKS = ["carts.services.merge_guest_cart_on_sign_in"]
# Redis first, written through to the database: losing the Redis node logs nobody out.
SESSION_ENGINE = "shop.sessions"  # cached_db, which a failover does not turn into 400s
SESSION_COOKIE_AGE = CACHE_TTLS["session"]  # idle lifetime: see SessionKeepAliveMiddleware
SESSION_KEEPALIVE_SECONDS = env.int("SESSION_KEEPALIVE_SECONDS", default=60)
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- E-mail ---------------------------------------------------------------------------------
# consolemail:// in development; smtp+tls://user:password@host:587 (or filemail:///path) otherwise.
# Production refuses to start without one that delivers: console, locmem (memorymail) and dummy
# backends would put live reset links and customers' orders in the logs, or nowhere (issue 12).
EMAIL_CONFIG = (
    env.email_url("EMAIL_URL")
    if PRODUCTION
    else env.email_url("EMAIL_URL", default="consolemail://")
)
vars().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, ... (django-environ)
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
if PRODUCTION and EMAIL_CONFIG["EMAIL_BACKEND"] in UNDELIVERED_EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"EMAIL_URL names a backend that delivers no mail ({EMAIL_CONFIG['EMAIL_BACKEND']}); "
        "production needs smtp://, smtp+tls:// or smtps:// (or filemail:// into a spool)."
    )
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Shop <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def _public_url(value: str) -> str:
    """Return the shop's public base URL without its trailing slash, or refuse a wrong one."""
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ImproperlyConfigured(
            f"SHOP_PUBLIC_URL must be http(s)://host[:port] with no path, not {value!r}."
        )
    return f"{parts.scheme}://{parts.netloc}"


# Where shoppers reach the shop: every absolute link (e-mails, the API's `next`) starts with it,
# never with the request's Host header, which a client writes (issue 12). The cluster's nginx
# sends its host upstream as the Host of every request. Production must name it.
SHOP_PUBLIC_URL = _public_url(
    env.str("SHOP_PUBLIC_URL")
    if PRODUCTION
    else env.str("SHOP_PUBLIC_URL", default="http://127.0.0.1:8000")
)
SHOP_PUBLIC_HOST = urlsplit(SHOP_PUBLIC_URL).netloc

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
# Without nginx in front (make run), Django serves media itself; the cluster's nginx does it there.
SERVE_MEDIA = env.bool("SHOP_SERVE_MEDIA", default=not PRODUCTION)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: a bad or revoked token, or any other Authorization header (another scheme,
    # a malformed one), is a 401 with WWW-Authenticate on every endpoint, never anonymous.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shop.accounts.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shop.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "shop.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# API tokens (django-rest-knox): a new one per sign-in (per device), valid API_TOKEN_TTL_HOURS,
# stored as a digest; sign-out revokes the one used, "sign out everywhere" all of a user's.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("API_TOKEN_TTL_HOURS", default=24)),
    "AUTH_HEADER_PREFIX": "Token",  # the contract's `Authorization: Token <key>`
}
# Past this many live tokens, a sign-in revokes the user's oldest (a device forgotten long ago).
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=20)
# Objects and arrays nested deeper than this in a request body are a 400: the shop's own bodies
# nest 3 levels, and json's recursive scanner fails near a thousand (shop/parsers.py).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=20)
SPECTACULAR_SETTINGS = {
    "TITLE": "Shop API",
    "DESCRIPTION": (
        "The shop's REST API: catalog, search, cart and orders. Errors are JSON with `detail` "
        "and `code`. No text may contain the NUL character (U+0000)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files from this origin (drf-spectacular-sidecar), so the CSP names no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Request bodies get components of their own, where a text field that refuses "" says
    # minLength: 1; output fields may well be empty (issue 11).
    "COMPONENT_SPLIT_REQUEST": True,
    # The API's one PATCH (a cart line's quantity) requires its field, as DESIGN.md's PATCH does.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shop.api_schema.add_error_responses",
    ],
}

# --- Carts ----------------------------------------------------------------------------------
CART_LINE_MAX_QUANTITY = env.int("CART_LINE_MAX_QUANTITY", default=10)
CART_MAX_LINES = env.int("CART_MAX_LINES", default=50)
CART_ACCOUNT_IDLE_DAYS = env.int("CART_ACCOUNT_IDLE_DAYS", default=30)

# --- Orders ---------------------------------------------------------------------------------
ORDER_RESERVATION_MINUTES = env.int("ORDER_RESERVATION_MINUTES", default=15)
# Cash on delivery (issue 12): an order holds its stock for COD_CONFIRM_MINUTES until its
# customer confirms it by the e-mailed link (or an operator does), else it is cancelled. One
# order takes at most COD_MAX_UNITS_PER_ORDER units, and a customer's open COD orders (per
# account, else per e-mail address and per client address) at most COD_MAX_UNITS_PER_CUSTOMER.
COD_CONFIRM_MINUTES = env.int("COD_CONFIRM_MINUTES", default=30)
COD_MAX_UNITS_PER_ORDER = env.int("COD_MAX_UNITS_PER_ORDER", default=10)
COD_MAX_UNITS_PER_CUSTOMER = env.int("COD_MAX_UNITS_PER_CUSTOMER", default=20)
# Guests' open COD orders from one client address: larger, as a carrier's NAT puts many behind one.
COD_MAX_UNITS_PER_ADDRESS = env.int("COD_MAX_UNITS_PER_ADDRESS", default=100)
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
# An outbox event that fails waits OUTBOX_RETRY_SECONDS, doubled after each failure, and is
# parked for an operator after OUTBOX_MAX_ATTEMPTS (60 s and 8: retries over about 2 hours).
# The accounts' outgoing mail (reset links, shop/accounts/outbox.py) retries the same way.
OUTBOX_RETRY_SECONDS = env.int("OUTBOX_RETRY_SECONDS", default=60)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# --- Catalog --------------------------------------------------------------------------------
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="USD")
CATALOG_PAGE_SIZE = env.int("CATALOG_PAGE_SIZE", default=24)
CATALOG_MAX_PAGE_SIZE = env.int("CATALOG_MAX_PAGE_SIZE", default=100)
CATALOG_COUNT_CAP = env.int("CATALOG_COUNT_CAP", default=10_000)  # rows a listing counts at most
SEARCH_MAX_QUERY_LENGTH = env.int("SEARCH_MAX_QUERY_LENGTH", default=200)
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)

# --- Rate limits ----------------------------------------------------------------------------
# Per endpoint, per signed-in user else per client address (DESIGN.md); shop/ratelimits.py names
# where each applies and reads these on every request. "30/m" is 30 a minute; "5/15m", "10/d".
# django-ratelimit counts in the default cache: Redis, shared by replicas, else the file cache
# shared by the workers of `make run`.
# For a load test: RATELIMIT_ENABLE=0 switches them all off, RATELIMIT_SCALE=100 multiplies every
# limit, and RATELIMIT_<NAME> replaces one (RATELIMIT_ADD_TO_CART=300/m).
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_SCALE = env.float("RATELIMIT_SCALE", default=1.0)
RATELIMITS = {
    "browsing": env.str("RATELIMIT_BROWSING", default="100/m"),  # product lists and pages
    "search": env.str("RATELIMIT_SEARCH", default="60/m"),
    "add_to_cart": env.str("RATELIMIT_ADD_TO_CART", default="30/m"),
    "place_order": env.str("RATELIMIT_PLACE_ORDER", default="5/m"),
    "registration": env.str("RATELIMIT_REGISTRATION", default="10/d"),  # per address only
    # Password reset e-mails asked for, per client address and per e-mail address asked about.
    "password_reset_ip": env.str("RATELIMIT_PASSWORD_RESET_IP", default="5/h"),
    "password_reset_account": env.str("RATELIMIT_PASSWORD_RESET_ACCOUNT", default="5/h"),
    # Failed password checks only (sign-in on the storefront, API and admin, password change,
    # a reset link's token), shared by them all (issue 12): per client address, per account
    # from one address (an attacker elsewhere cannot lock its owner out), and per account from
    # any address, a slower backstop against a guesser with many addresses.
    "login_ip": env.str("RATELIMIT_LOGIN_IP", default="5/15m"),
    "login_account_ip": env.str("RATELIMIT_LOGIN_ACCOUNT_IP", default="5/15m"),
    "login_account": env.str("RATELIMIT_LOGIN_ACCOUNT", default="100/h"),
}
RATELIMIT_USE_CACHE = "default"
# Redis unreachable (the cache ignores its errors): let requests through uncounted rather than
# refuse them all; nginx's per-address limit_req still stands in front.
RATELIMIT_FAIL_OPEN = True
# The request header in which the proxy in front passes the client's address; empty: REMOTE_ADDR.
# The cluster's nginx sets X-Real-IP (HTTP_X_REAL_IP). Never X-Forwarded-For: clients forge it.
SHOP_TRUSTED_PROXY_HEADER = env.str("SHOP_TRUSTED_PROXY_HEADER", default="")
RATELIMIT_IP_META_KEY = "shop.ratelimits.client_ip"

# --- Security (production) ------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
# The https redirect goes to the public host, not to whatever Host the request named (issue 12).
SECURE_SSL_HOST = SHOP_PUBLIC_HOST if PRODUCTION else None
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
# Bodies past this are refused (nginx refuses them first, with the same limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_BYTES", default=1024 * 1024)
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every answer from Django (django-csp), `make run` and behind any
# proxy alike: this origin only, no inline script or style. Two kinds of page widen it for
# themselves with csp_update: the API docs (Swagger UI's inline <style>; its files come from
# drf-spectacular-sidecar, not a CDN) and the plain error pages, whose inline style renders even
# when static files are the problem (shop/views.py). nginx adds one only to what Django never
# answers: files from disk and its own refusals (nginx/security_headers.conf).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "style-src": [SELF],
        "script-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Observability --------------------------------------------------------------------------
# Every response names the replica that served it (X-Served-By), and so does every log line.
SHOP_REPLICA_NAME = env.str("SHOP_REPLICA_NAME", default=socket.gethostname())
# /metrics answers 127.0.0.1 and ::1 directly, and anyone sending "Authorization: Bearer <token>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Each process remembers its /readyz answer this long: a flood of probes costs nothing more.
READYZ_CACHE_SECONDS = env.float("READYZ_CACHE_SECONDS", default=1.0)
# PROMETHEUS_MULTIPROC_DIR, read by prometheus_client itself: under several gunicorn workers, an
# existing directory, emptied before start, where each process writes its metrics.

# --- Logging --------------------------------------------------------------------------------
# "json": one JSON object a line with request_id and replica (shop/observability.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "shop.observability.RequestLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "shop.observability.JsonLogFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request"],
            "formatter": LOG_FORMAT,
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
