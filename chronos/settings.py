"""Chronos settings: one module, driven by the environment (django-environ).

Every variable is listed with a comment in `.env.example`. `.env` is read only when
CHRONOS_READ_DOT_ENV=1 (so tests and CI never pick up a developer's keys by accident).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if env.bool("CHRONOS_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

DATA_DIR = Path(env("CHRONOS_DATA_DIR", default=str(BASE_DIR / ".chronos")))
DEBUG = env.bool("DJANGO_DEBUG", default=False)
TESTING = env.bool("CHRONOS_TESTING", default=False)
# No DATABASE_URL means the embedded database: a local install, never production.
LOCAL_MODE = not env("DATABASE_URL", default="")


def _secret_key() -> str:
    key = env("SECRET_KEY", default="")
    if key:
        return key
    if not (DEBUG or TESTING or LOCAL_MODE):
        raise ImproperlyConfigured("SECRET_KEY must be set in production (DATABASE_URL set).")
    # Local use (embedded database): a random key under .chronos/ survives restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django.contrib.sites",
    "rest_framework",
    "django_q",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "creators",
    "billing",
    "videos",
    "courses",
    "chat",
    "analytics",
    "axes",  # sign-in throttling (last: its signal handlers see every app's users)
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "chronos.input.InputGuardMiddleware",  # unstorable text / unbounded JSON -> 400
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "creators.middleware.WhopUserTokenMiddleware",  # x-whop-user-token (Whop iframe)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "creators.middleware.FrameAncestorsMiddleware",  # frame-ancestors whop.com only
    "csp.middleware.CSPMiddleware",  # below FrameAncestors: it adds frame-ancestors after
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the 429 page
    "chronos.middleware.DatabaseBusyMiddleware",  # no free connection -> 503 + Retry-After
    # Sync-only, after every real middleware: under ASGI the chain above runs in one thread
    # instead of hopping to the event loop and back (chronos/middleware.py).
    "chronos.middleware.SyncChainMiddleware",
]

ROOT_URLCONF = "chronos.urls"
WSGI_APPLICATION = "chronos.wsgi.application"
ASGI_APPLICATION = "chronos.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "creators.context_processors.navigation",
                "creators.context_processors.whop",
                "billing.context_processors.plan_alerts",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from chronos.embedded_db import embedded_database_url

    DATABASES = {
        "default": environ.Env.db_url_config(
            embedded_database_url(
                DATA_DIR / "pgdata",
                cleanup_mode=env("CHRONOS_EMBEDDED_DB_CLEANUP", default="stop") or None,
            )
        )
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hottest fixed statements (a heartbeat's) are prepared once per connection
# (chronos/db.py); off behind a transaction-pooling PgBouncer older than 1.21.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
# DB_POOL=1: a psycopg connection pool per process (Django's "pool" option) instead of a new
# connection per request (~20 ms each on a loaded machine), and a bound: a process holds at
# most DB_POOL_SIZE connections however many requests are in flight, so WEB_CONCURRENCY x
# DB_POOL_SIZE + worker processes stays under PostgreSQL's max_connections (100 by default).
# A request that waits DB_POOL_TIMEOUT seconds for a connection is answered 503 + Retry-After
# (chronos.middleware.DatabaseBusyMiddleware). On by default in the web server only
# (chronos/asgi.py); pooling needs CONN_MAX_AGE=0 (ASGI runs each request in its own thread).
if env.bool("DB_POOL", default=False) and not DATABASES["default"]["CONN_MAX_AGE"]:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DB_POOL_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "creators.User"
if TESTING:
    # Tests only (CHRONOS_TESTING=1, set by tests/embedded_pg.py and inherited by the web
    # processes tests start): every factory user and every HTTP Basic request hashes a
    # password, and PBKDF2's 1,000,000 iterations cost ~0.3-1 s each on a loaded 2-core
    # machine. Django's testing docs recommend a fast hasher there ("Speeding up the
    # tests"); outside tests Django's default list (PBKDF2 first) applies.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out users and IPs
    # Django's and allauth's backends, the signed-in user read by one fixed statement.
    "creators.auth.ModelBackend",
    "creators.auth.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="none")
ACCOUNT_LOGOUT_ON_GET = False
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Chronos <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"  # filled by collectstatic (Procfile release)
if LOCAL_MODE or TESTING:
    STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on a missing root; finders serve
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics.staticfiles.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
WHITENOISE_USE_FINDERS = True  # serve straight from the app/static dirs without collectstatic
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
# S3 (issue 14). Presigned URLs use Signature Version 4: AWS refuses SigV2 on buckets created
# since June 2020, and botocore would otherwise pick SigV2 for us-east-1. SigV4 signs for a
# region, so the bucket's region must be right (us-east-1 when unset, as AWS defaults).
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="") or "us-east-1"
AWS_S3_SIGNATURE_VERSION = "s3v4"
# Lifetime of presigned URLs (playback redirects, upload parts), seconds; at most 1 hour.
AWS_QUERYSTRING_EXPIRE = min(env.int("AWS_QUERYSTRING_EXPIRE", default=3600), 3600)
# "path" for S3-compatible servers that need it (MinIO, moto); empty lets botocore choose.
AWS_S3_ADDRESSING_STYLE = env("AWS_S3_ADDRESSING_STYLE", default="") or None


# Seconds botocore waits for S3 to answer a read: S3 may take minutes to assemble a large
# multipart upload ("Processing of a Complete Multipart Upload request could take several
# minutes", S3 API reference); botocore's default is 60.
AWS_S3_READ_TIMEOUT = env.int("AWS_S3_READ_TIMEOUT", default=300)


def s3_storage_options(bucket: str, **overrides) -> dict:
    """django-storages S3Storage OPTIONS for `bucket` (tests reuse it with a moto endpoint).
    max_memory_size: a stored file opened for reading spills to disk past 8 MB (the default,
    0, would hold a whole object in memory). client_config carries the signature version,
    addressing style and timeouts (django-storages then ignores the two separate keys)."""
    from botocore.config import Config

    options = {
        "bucket_name": bucket,
        "region_name": AWS_S3_REGION_NAME,
        "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
        "signature_version": AWS_S3_SIGNATURE_VERSION,
        "addressing_style": AWS_S3_ADDRESSING_STYLE,
        "querystring_auth": True,
        "querystring_expire": AWS_QUERYSTRING_EXPIRE,
        "file_overwrite": True,
        "default_acl": None,
        "max_memory_size": 8 * 1024 * 1024,
        **overrides,
    }
    options["client_config"] = Config(
        s3={"addressing_style": options["addressing_style"]},
        signature_version=options["signature_version"],
        read_timeout=AWS_S3_READ_TIMEOUT,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return options


if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_storage_options(AWS_STORAGE_BUCKET_NAME),
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# --- Chronos ------------------------------------------------------------------------------
CHRONOS_MAX_UPLOAD_BYTES = env.int("CHRONOS_MAX_UPLOAD_BYTES", default=2 * 1024**3)
# Direct-to-bucket uploads (S3 storage only; videos.uploads): the browser sends the file's
# parts straight to S3 with presigned URLs. Off: uploads go through the web process.
CHRONOS_DIRECT_UPLOADS = env.bool("CHRONOS_DIRECT_UPLOADS", default=True)
# Part size of a direct multipart upload, bytes (S3: 5 MiB..5 GiB, at most 10,000 parts).
CHRONOS_UPLOAD_PART_BYTES = max(
    env.int("CHRONOS_UPLOAD_PART_BYTES", default=16 * 1024**2), 5 * 1024**2
)
# A direct upload not completed within this many hours is aborted (its parts deleted).
CHRONOS_UPLOAD_ABANDON_HOURS = env.float("CHRONOS_UPLOAD_ABANDON_HOURS", default=24.0)
CHRONOS_TRANSCRIBER = env("CHRONOS_TRANSCRIBER", default="auto")  # auto|whisper|local
CHRONOS_EMBEDDER = env("CHRONOS_EMBEDDER", default="auto")  # auto|openai|local|none
# Texts the local embedder encodes at once, each run on one core (0 = one per core).
CHRONOS_EMBEDDER_THREADS = env.int("CHRONOS_EMBEDDER_THREADS", default=0)
# How the local embedder embeds 3-cue windows: whole (each window's text; the quality
# default) or cues (each cue once, a window pooled from its cues: ~2.4x faster ingest, a
# little less precise; README "Tutor").
CHRONOS_EMBEDDER_WINDOWS = env("CHRONOS_EMBEDDER_WINDOWS", default="whole")  # whole|cues
CHRONOS_ANSWERER = env("CHRONOS_ANSWERER", default="auto")  # auto|anthropic|openai|extractive
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="") or None
OPENAI_CHAT_MODEL = env("OPENAI_CHAT_MODEL", default="gpt-4o-mini")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="") or None
ANTHROPIC_MODEL = env("ANTHROPIC_MODEL", default="claude-haiku-4-5")
CHRONOS_PROVIDER_MAX_RETRIES = env.int("CHRONOS_PROVIDER_MAX_RETRIES", default=3)
CHRONOS_PROVIDER_TIMEOUT = env.float("CHRONOS_PROVIDER_TIMEOUT", default=120.0)
# Backoff base for transient provider errors: waits 1x, 2x, 4x this (videos.providers).
CHRONOS_PROVIDER_BACKOFF_SECONDS = env.float("CHRONOS_PROVIDER_BACKOFF_SECONDS", default=1.0)
# Length of each Whisper piece when audio over 25 MB is split (videos.transcribers).
CHRONOS_WHISPER_PIECE_SECONDS = env.float("CHRONOS_WHISPER_PIECE_SECONDS", default=600.0)

# Whop
WHOP_APP_ID = env("WHOP_APP_ID", default="")
WHOP_API_KEY = env("WHOP_API_KEY", default="")
WHOP_CLIENT_ID = env("WHOP_CLIENT_ID", default="")
WHOP_CLIENT_SECRET = env("WHOP_CLIENT_SECRET", default="")
WHOP_WEBHOOK_SECRET = env("WHOP_WEBHOOK_SECRET", default="")
# Every secret a delivery may be signed with (app webhook + company webhook), each tried.
WHOP_WEBHOOK_SECRETS = [s.strip() for s in env.list("WHOP_WEBHOOK_SECRETS", default=[])]
# How long Whop's answer to "who is this user to that experience/company" is trusted (s).
WHOP_ACCESS_CACHE_SECONDS = min(env.int("WHOP_ACCESS_CACHE_SECONDS", default=300), 300)
WHOP_API_BASE = env("WHOP_API_BASE", default="https://api.whop.com")
# Chronos's own Whop company ("biz_..."), whose company webhook reports Chronos's plan sales;
# its memberships/refunds are billing's business, not students'.
WHOP_COMPANY_ID = env("WHOP_COMPANY_ID", default="")
# Accounts (creators app): the iframe token's key set, who may frame us, "Sign in with Whop".
WHOP_JWKS_URL = env("WHOP_JWKS_URL", default=f"{WHOP_API_BASE}/.well-known/jwks.json")
WHOP_FRAME_ANCESTORS = env.list(
    "WHOP_FRAME_ANCESTORS", default=["https://whop.com", "https://*.whop.com"]
)
CHRONOS_DELETION_GRACE_DAYS = env.int("CHRONOS_DELETION_GRACE_DAYS", default=30)
SOCIALACCOUNT_ADAPTER = "creators.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = True  # Whop refresh tokens rotate; revoked on sign-out
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": "whop",
                "name": "Whop",
                "client_id": WHOP_CLIENT_ID,
                "secret": WHOP_CLIENT_SECRET,
                "settings": {
                    # allauth appends /.well-known/openid-configuration
                    "server_url": WHOP_API_BASE,
                    "oauth_pkce_enabled": True,
                    "token_auth_method": "client_secret_post",
                    "scope": ["openid", "profile", "email"],
                },
            }
        ]
        if WHOP_CLIENT_ID
        else [],
    }
}

# tiktoken's BPE file ships in the repo (no network at run time); see videos/data/README.md.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(BASE_DIR / "videos" / "data" / "tiktoken"))

# --- Queue (django-q2, ORM broker) --------------------------------------------------------
# Each pipeline stage is one task; the longest is local speech recognition of a long
# lecture, so `timeout` is generous and `retry` (re-delivery of an unacknowledged task)
# sits above it, as django-q2 requires.
Q_CLUSTER = {
    "name": "chronos",
    "orm": "default",
    "workers": env.int("CHRONOS_Q_WORKERS", default=2),
    "timeout": env.int("CHRONOS_Q_TIMEOUT", default=3600),
    "retry": env.int("CHRONOS_Q_RETRY", default=3660),
    "max_attempts": env.int("CHRONOS_Q_MAX_ATTEMPTS", default=2),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.5,
    "sync": env.bool("CHRONOS_Q_SYNC", default=False),
    "label": "Task queue",
    # Whop webhooks run on their own queue and worker (`Q_CLUSTER_NAME=whop qcluster`, the
    # Procfile's `whop` line) so a busy video pipeline never delays an access change.
    "ALT_CLUSTERS": {
        "whop": {
            "workers": env.int("CHRONOS_WHOP_Q_WORKERS", default=1),
            "timeout": 60,
            "retry": 90,
            "max_attempts": 3,
        }
    },
}

REST_FRAMEWORK = {
    # Basic first: a signed-out request gets 401 with WWW-Authenticate (DRF takes the
    # challenge from the first class; SessionAuthentication has none and would mean 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "chronos.signin.BasicAuthentication",  # DRF's, with django-axes' lockout
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "chronos.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "chronos.input.BoundedJSONParser",  # depth-bounded, reuses the input guard's parse
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Deepest JSON nesting a request body may have (chronos.input); real payloads use < 10.
CHRONOS_JSON_MAX_DEPTH = env.int("CHRONOS_JSON_MAX_DEPTH", default=64)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "django_q": {"level": env("Q_LOG_LEVEL", default="INFO")},
    },
}

# Inside Whop's iframe the app may be framed cross-site: set both to "None" there (with
# Secure cookies) so sessions and CSRF survive; Lax is right for a first-party deployment.
# Database sessions, the row read by one fixed statement (chronos/sessions.py).
SESSION_ENGINE = "chronos.sessions"
SESSION_COOKIE_SAMESITE = env("SESSION_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = env("CSRF_COOKIE_SAMESITE", default="Lax")
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not TESTING)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not TESTING)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Security headers ----------------------------------------------------------------------
# CSP (django-csp): scripts only from our origin (no inline script, no eval); styles may be
# inline (htmx indicators, Plotly). frame-ancestors is added by
# creators.middleware.FrameAncestorsMiddleware (whop.com for pages, 'none' for the admin).
# Media/images/uploads may come from the S3 bucket's origin when one is configured.
_storage_origins = env.list("CSP_STORAGE_ORIGINS", default=[])
if AWS_STORAGE_BUCKET_NAME and not _storage_origins:
    _endpoint = env("AWS_S3_ENDPOINT_URL", default="")
    _storage_origins = [_endpoint] if _endpoint else ["https://*.amazonaws.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *_storage_origins],
        "media-src": ["'self'", "blob:", *_storage_origins],
        "connect-src": ["'self'", *_storage_origins],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
    }
}
# Permissions-Policy (django-permissions-policy): no sensors, camera, microphone or payment
# APIs; the player may go fullscreen and picture-in-picture.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
    "autoplay": ["self"],
    "fullscreen": ["self"],
    "picture-in-picture": ["self"],
}
# HSTS: only ever sent over HTTPS (Django skips it on plain HTTP), and only when not DEBUG.
if not DEBUG:
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)  # one year
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"

# --- Sign-in throttling (django-axes) -------------------------------------------------------
# Admin, e-mail sign-in and HTTP Basic (API) all go through authenticate(), which axes
# watches. Lockout by user OR by IP (each counted on its own) after AXES_FAILURE_LIMIT
# failures, for AXES_COOLOFF_MINUTES; the answer is chronos.signin.lockout_response (429).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "chronos.signin.attempted_username"
AXES_LOCKOUT_CALLABLE = "chronos.signin.lockout_response"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)  # proxies in front
AXES_VERBOSE = False

# --- OpenAPI (drf-spectacular) ------------------------------------------------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "Chronos API",
    "DESCRIPTION": (
        "Videos, transcripts and cited chat answers. Authenticate with HTTP Basic "
        "(e-mail and password) or the browser session (with the X-CSRFToken header). "
        'Errors: {"error": message, "code": machine_code, "fields": {name: [message]}}.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Plain Django views of the API (POST /api/v1/chat, the session export) described by
    # their documentation twins (chronos.schema.described_by).
    "DEFAULT_GENERATOR_CLASS": "chronos.schema.SchemaGenerator",
    # Two "status" choice sets in the API (a video's, a direct upload's): named, not hashed.
    "ENUM_NAME_OVERRIDES": {
        "VideoStatusEnum": "videos.models.Video.Status",
        "DirectUploadStatusEnum": "videos.models.DirectUpload.Status",
    },
}
# --- Plans (billing; issue 10) --------------------------------------------------------------
# Whop plan ids ("plan_...") of the paid tiers: they seed billing.PlanTierMapping (editable in
# the admin afterwards); "Upgrade" buys them through a Whop checkout configuration.
WHOP_PLAN_BASIC = env("WHOP_PLAN_BASIC", default="")
WHOP_PLAN_PRO = env("WHOP_PLAN_PRO", default="")
WHOP_PLAN_ENTERPRISE = env("WHOP_PLAN_ENTERPRISE", default="")
# The students' burst limit (10 questions a minute) counts in a cache every web process
# shares and that increments atomically (django-ratelimit's requirement): by default
# PostgreSQL itself (billing.ratecache, an UNLOGGED table); set RATELIMIT_CACHE_URL to a
# redis:// URL to use Redis instead (Django's RedisCache; `pip install redis`).
_ratelimit_cache_url = env("RATELIMIT_CACHE_URL", default="")
_analytics_cache_url = env("ANALYTICS_CACHE_URL", default="")
CACHES = {
    **globals().get(
        "CACHES",
        {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                # Per-process entries (Whop lookups, chat scopes, allauth's rate limits): Django's
                # default of 300 is culled early with many students; 10,000 entries stay small.
                # (The watch-events lock verdict is not here: it is on LessonProgress.)
                "OPTIONS": {"MAX_ENTRIES": 10_000},
            }
        },
    ),
    # Analytics reads cached between rollups (analytics.caching), shared by the web processes
    # and the worker that pre-computes the dashboards after each rollup: a per-process cache
    # would make every web process pay each cold dashboard itself. By default a PostgreSQL
    # table (Django's DatabaseCache; migration analytics 0004): entries are ~30 KB on
    # average, a full-scale dashboard ~200 KB, so 5,000 entries stay under ~150 MB (expired
    # ones are culled first). ANALYTICS_CACHE_URL=redis://... uses Redis instead.
    "analytics": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _analytics_cache_url}
        if _analytics_cache_url
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "analytics_cache",
            "OPTIONS": {"MAX_ENTRIES": 5_000},
        }
    ),
    "ratelimit": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _ratelimit_cache_url}
        if _ratelimit_cache_url
        else {"BACKEND": "billing.ratecache.PostgresCounterCache"}
    ),
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
