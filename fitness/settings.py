"""Settings for the Future Fitness backend.

Everything comes from the environment (see `.env.example`). With nothing set the service runs
on embedded defaults (SQLite, local-memory cache, in-memory channel layer, eager Celery,
console e-mail); naming a real service in the environment switches to it with the same code.

Each setting is defined once, in sections by concern, in the order a reader looks for them:
the core and the apps, the backing services (database, Redis, Celery), authentication and the
admin, the API, bodies and files, AI, migration, e-mail, security, logging, metrics and
Sentry, and last the periodic tasks, which name tasks of every app.
"""

import ipaddress
from datetime import date, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured
from packaging.version import InvalidVersion, Version

from fitness.observability.sentry import init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# The placeholder is public (it is in this file), so it may only ever serve a DEBUG machine:
# with DEBUG off, every serving entry point (ASGI, WSGI, Celery worker and beat) refuses to
# start with it (fitness.startup). Offline commands such as makemigrations need no secret.
_INSECURE_KEY = "django-insecure-local-development-only"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_KEY)
SECRET_KEY_IS_WEAK = SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 32

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications, middleware, URLs, templates --------------------------------------------
INSTALLED_APPS = [
    "fitness.apps.FitnessAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "waffle",
    "fitness",
    "accounts",
    "food",
    "workouts",
    "social",
    "ai_assistant",
    "storage",
    "migration",
    "rollout",
    "sync",
    "analytics",
]

MIDDLEWARE = [
    "fitness.middleware.RequestIDMiddleware",
    "fitness.observability.requests.RequestObservabilityMiddleware",
    "fitness.middleware.JsonErrorsMiddleware",
    # Early, so its durations cover nearly the whole request (analytics' route rollup).
    "analytics.middleware.RouteStatsMiddleware",
    "fitness.middleware.AllowedHostMiddleware",
    # Before anything else can answer: a preflight (OPTIONS) is answered here, before the
    # SSL redirect, WhiteNoise or the API's authentication see it.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "fitness.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "rollout.middleware.AppVersionGateMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "fitness.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged on the request into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fitness.urls"
WSGI_APPLICATION = "fitness.wsgi.application"
ASGI_APPLICATION = "fitness.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default still serves parallel requests: WAL lets readers run beside the
    # writer, and IMMEDIATE transactions queue writers (up to the timeout) instead of failing
    # with "database is locked" when one upgrades from a read.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL;"
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg pool replaces persistent connections (the two are exclusive).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
        "timeout": 10,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: cache and channel layer -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="ff"),
            "OPTIONS": {
                "CLIENT_CLASS": "fitness.redis_cache.SharedRedisClient",
                # A Redis that hangs (not only one that is down) must answer 503 quickly
                # instead of holding every request; cache calls never block on purpose.
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=2.0),
                "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=2.0),
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "fitness.channel_layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # An idle socket waits in a blocking pop that Redis ends after 5 s
                        # (channels_redis's `brpop_timeout`). redis-py's own read timeout
                        # (`socket_timeout`, 5 s by default since redis-py 8) must outlast it,
                        # or the race ends the wait with TimeoutError and the consumer, and so
                        # the socket, dies. Still bounded: a Redis that stops answering is
                        # noticed, not waited for forever.
                        "socket_timeout": 15,
                    }
                ],
                "prefix": env.str("CHANNELS_PREFIX", default="ff-asgi"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery: broker and workers (periodic tasks are at the end) ---------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL) or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker there is no worker either, so tasks run in-process at the call site.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep the JSON log format of LOGGING in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# When a whole worker machine is lost, nothing is left to hand its unacknowledged
# messages back; Redis does so itself after this long. Celery's default (an hour) would
# leave a recognition to its stuck-job sweep (AI_RECOGNITION); this must stay longer than
# the task's hard limit and its retry delays, or a message still being worked on would be
# handed out again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}

# --- Authentication: passwords, JWT, revocation, lockout, Firebase tokens -----------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Verifies passwords imported from Firebase Auth; never first, so a successful login
    # re-hashes them with Argon2.
    "accounts.hashers.FirebaseScryptPasswordHasher",
    # Verifies passwords imported from Supabase (`bcrypt$<hash>`); after the default, so the
    # first successful login re-hashes them with Argon2.
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A reset code is six digits the user types: short-lived and dead after a few wrong tries,
# so guessing one (a million values) stays hopeless.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=15 * 60)
PASSWORD_RESET_MAX_ATTEMPTS = env.int("PASSWORD_RESET_MAX_ATTEMPTS", default=5)
# The app link in the reset e-mail; {email} and {code} are filled in (URL-encoded).
PASSWORD_RESET_LINK = env.str(
    "PASSWORD_RESET_LINK", default="futurefitness://reset?email={email}&code={code}"
)
try:
    PASSWORD_RESET_LINK.format_map({"email": "", "code": ""})
except (KeyError, IndexError, ValueError) as exc:
    raise ImproperlyConfigured("PASSWORD_RESET_LINK may only name {email} and {code}.") from exc
if "{code}" not in PASSWORD_RESET_LINK:
    raise ImproperlyConfigured("PASSWORD_RESET_LINK must contain {code}.")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "LEEWAY": 0,
}
if SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] > timedelta(minutes=15):
    raise ImproperlyConfigured(
        "JWT_ACCESS_MINUTES may not exceed 15: access tokens are short-lived."
    )

# How long the per-user record that access tokens are checked against ("active, token
# version, sessions revoked lately") is cached; the database holds it, so a flush loses
# nothing. Every change drops the cached copy at once.
AUTH_STATE_CACHE_SECONDS = env.int("AUTH_STATE_CACHE_SECONDS", default=300)
# Retry-After of the 503 `service_unavailable` answered while Redis cannot be reached.
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=5)

# Brute-force protection for login: attempts per e-mail inside one window, counted in the
# database (accounts.LoginAttemptWindow).
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)

# With a project set, Firebase ID tokens of that project are accepted as bearer tokens and
# exchanged at /api/v1/auth/firebase, until FIREBASE_TOKENS_UNTIL (a date, inclusive) has
# passed; then they answer 401 `legacy_token_expired`.
FIREBASE_PROJECT_ID = env.str("FIREBASE_PROJECT_ID", default="")
FIREBASE_CERTS_URL = env.str(
    "FIREBASE_CERTS_URL",
    default="https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
)
_firebase_until = env.str("FIREBASE_TOKENS_UNTIL", default="")
try:
    FIREBASE_TOKENS_UNTIL = date.fromisoformat(_firebase_until) if _firebase_until else None
except ValueError as exc:
    raise ImproperlyConfigured("FIREBASE_TOKENS_UNTIL must be a date (YYYY-MM-DD).") from exc

# --- Admin --------------------------------------------------------------------------------
# The admin's path: one of its own keeps it out of the way of scanners that try /admin/.
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
if ADMIN_URL == "/":
    raise ImproperlyConfigured("ADMIN_URL may not be empty: the admin needs its own path.")
# Staff sign in with a password and a TOTP code (django-otp); off by default only on a
# developer's machine, so `make run` needs no authenticator app.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not DEBUG)
OTP_TOTP_ISSUER = "Future Fitness"

# The admin login's brute-force protection (django-axes), with the API login's numbers: a
# username is locked after LOGIN_MAX_FAILURES failures inside LOGIN_LOCKOUT_SECONDS, and so
# is a client IP after as many failures across any usernames. Attempts live in the
# database, so a cache flush or Redis restart does not forgive them. The API login keeps
# its own lockout (accounts.services.login); fitness.admin_security leaves it alone.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "fitness.admin_security.AdminLoginAxesHandler"
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = "fitness.admin_security.failure_limit"
AXES_COOLOFF_TIME = "fitness.admin_security.cool_off"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The admin's login form posts `username` (the e-mail), normalised as the API does.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "fitness.admin_security.login_username"
# The same client IP as the API's throttles (REST_FRAMEWORK["NUM_PROXIES"]).
AXES_CLIENT_IP_CALLABLE = "fitness.admin_security.client_ip"
AXES_LOCKOUT_CALLABLE = "fitness.admin_security.lockout_response"

# --- REST API and OpenAPI -----------------------------------------------------------------
# Proxies in front of the service (load balancers); what X-Forwarded-* are trusted for is
# under Security below.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["fitness.api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["fitness.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "fitness.api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "fitness.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "fitness.api.schema.EnvelopeAutoSchema",
    # Registration, login and password reset (fitness.api.throttling): per client IP the
    # limits are generous, since a carrier's NAT puts thousands of phones behind one
    # address; the tight ones are per device (`X-Device-ID`) and per e-mail (the login
    # lockout, LOGIN_MAX_FAILURES; reset e-mails; the reset code's own tries).
    "DEFAULT_THROTTLE_RATES": {
        "register": env.str("THROTTLE_REGISTER", default="300/hour"),
        "register_device": env.str("THROTTLE_REGISTER_DEVICE", default="5/hour"),
        "login": env.str("THROTTLE_LOGIN", default="600/minute"),
        "login_device": env.str("THROTTLE_LOGIN_DEVICE", default="20/minute"),
        # Reset requests and confirmations together.
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="300/hour"),
        "password_reset_device": env.str("THROTTLE_PASSWORD_RESET_DEVICE", default="20/hour"),
        # Reset e-mails per address: no one is flooded with codes.
        "password_reset_email": env.str("THROTTLE_PASSWORD_RESET_EMAIL", default="5/hour"),
        # Per signed-in user: new data exports (each zips all the user's data and photos).
        "data_export": env.str("THROTTLE_DATA_EXPORT", default="5/day"),
        # Per signed-in user: e-mail search must not become a way to test address lists.
        "user_search": env.str("THROTTLE_USER_SEARCH", default="30/hour"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# CORS (django-cors-headers), for the app's web build and local tools; the phone app needs
# none. No origin is allowed unless listed (scheme://host[:port]). Only the API answers
# CORS; tokens travel in the Authorization header, so no cookies (credentials) are allowed.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "if-match", "prefer", "x-device-id", "x-request-id")
# What a browser script may read of a response: the offline rules' ETag, a 201's Location,
# a 429's or 503's Retry-After, and the request id for support.
CORS_EXPOSE_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID"]
CORS_ALLOW_CREDENTIALS = False

SPECTACULAR_SETTINGS = {
    "TITLE": "Future Fitness API",
    "DESCRIPTION": (
        "The one backend of the Future Fitness app. Every error answers "
        '`{"error": {"code", "message", "details"}}`; lists answer '
        "`{items, total, page, hasMore}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Named enums, so that fields of the same name in other apps (`type`, `status`) do not
    # collide in the schema.
    "ENUM_NAME_OVERRIDES": {
        "WorkoutTypeEnum": "workouts.models.WorkoutType",
        "RecognitionJobStatusEnum": "ai_assistant.models.RecognitionJob.Status",
        "ChallengeTypeEnum": "social.models.ChallengeType",
        "MemberStatusEnum": "social.models.MemberStatus",
        "ConnectionListStatusEnum": ["accepted", "incoming", "outgoing"],
        "ChallengeStatusEnum": ["upcoming", "active", "finished"],
        "DataExportStatusEnum": "accounts.models.DataExport.Status",
        # What clients upload as; a stored file may also be a data export.
        "PurposeEnum": "storage.models.CLIENT_PURPOSES",
        "StoredFilePurposeEnum": "storage.models.Purpose",
    },
}

# --- Request bodies and WebSocket frames --------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_JSON_BODY_BYTES", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# A WebSocket frame past this answers a `payload_too_large` error frame; the socket stays
# open. A chat message (4000 characters, up to 16 KB in UTF-8) fits with room to spare. The
# ASGI server's own cap (uvicorn's --ws-max-size, WS_MAX_SIZE in the Makefile) sits above
# it and closes the socket with 1009.
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=64 * 1024)

# --- Files: uploads, images, signed URLs, where the blobs live ----------------------------
STORAGE_MAX_UPLOAD_BYTES = env.int("STORAGE_MAX_UPLOAD_MB", default=10) * 1024 * 1024
STORAGE_USER_QUOTA_BYTES = env.int("STORAGE_USER_QUOTA_MB", default=1024) * 1024 * 1024
STORAGE_MAX_PIXELS = env.int("STORAGE_MAX_PIXELS", default=40_000_000)
# What one batch upload may decode in all, summed from the files' headers before any is
# decoded (a 40 MP image costs about 2 s and 160 MB): ten 12 MP phone photos fit.
STORAGE_MAX_BATCH_PIXELS = env.int("STORAGE_MAX_BATCH_PIXELS", default=120_000_000)
# Images decoded at once per process (thread or Celery child); a request that waits longer
# than STORAGE_DECODE_WAIT_SECONDS for a slot answers 503 with Retry-After.
STORAGE_MAX_CONCURRENT_DECODES = env.int("STORAGE_MAX_CONCURRENT_DECODES", default=2)
STORAGE_DECODE_WAIT_SECONDS = env.float("STORAGE_DECODE_WAIT_SECONDS", default=10.0)
STORAGE_URL_TTL_SECONDS = env.int("STORAGE_URL_TTL_SECONDS", default=15 * 60)
if not 60 <= STORAGE_URL_TTL_SECONDS <= 7 * 24 * 3600:
    # GCS V4 signatures cannot outlive 7 days.
    raise ImproperlyConfigured("STORAGE_URL_TTL_SECONDS must be between 60 and 604800.")
# How long a data export's zip (POST /users/me/export) is kept before the expiry sweep
# deletes it; each GET of the export signs a fresh link (STORAGE_URL_TTL_SECONDS).
DATA_EXPORT_TTL_DAYS = env.int("DATA_EXPORT_TTL_DAYS", default=7)
# An export still pending or running after this long was lost (its worker and message
# gone); a new request then starts another instead of answering it.
DATA_EXPORT_STALE_SECONDS = 3600
STORAGE_BATCH_MAX_FILES = 10
# Django refuses more files than a batch may hold while parsing, before storing any.
DATA_UPLOAD_MAX_NUMBER_FILES = STORAGE_BATCH_MAX_FILES

GS_BUCKET_NAME = env.str("GS_BUCKET_NAME", default="")
# django-storages wants a credentials object here; the environment names a key file.
GS_CREDENTIALS = None
# Local backend: a folder that no URL serves; files leave only through signed links.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))
_default_storage = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
}
if GS_BUCKET_NAME:
    _gs_key_file = env.str("GS_CREDENTIALS", default="")
    if _gs_key_file:
        from google.oauth2 import service_account

        GS_CREDENTIALS = service_account.Credentials.from_service_account_file(
            _gs_key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    _default_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": GS_BUCKET_NAME,
            "project_id": env.str("GS_PROJECT_ID", default="") or None,
            # Against the emulator (STORAGE_EMULATOR_HOST) data calls go anonymous and the
            # key only signs URLs; in production the key does both.
            "credentials": None if env.str("STORAGE_EMULATOR_HOST", default="") else GS_CREDENTIALS,
            # Without a key (workload identity) URLs are signed through IAM signBlob.
            "iam_sign_blob": env.bool("GS_IAM_SIGN_BLOB", default=not _gs_key_file),
            "querystring_auth": True,
            "default_acl": None,
            "expiration": timedelta(seconds=STORAGE_URL_TTL_SECONDS),
            # Keys are random (a retried variant overwrites its own), so no existence check.
            "file_overwrite": True,
            "object_parameters": {"cache_control": "private, max-age=86400"},
        },
    }

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
# Only needed by collectstatic for a CDN; WhiteNoise serves from the apps otherwise.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- AI (Gemini): the coach, photo recognition --------------------------------------------
# The plan's AIServiceConfig. Only the server holds the key: read from the environment, never
# logged or returned. Without a key the AI endpoints answer 503 `ai_unavailable`.
GEMINI_API_KEY = env.str("GEMINI_API_KEY", default="")
GEMINI_BASE_URL = env.str("GEMINI_BASE_URL", default="")  # a proxy, or the tests' stand-in
GEMINI_MODEL = env.str("GEMINI_MODEL", default="gemini-2.5-flash")
AI_SERVICE = {
    "MODELS": {"vision": GEMINI_MODEL, "text": GEMINI_MODEL, "fast": GEMINI_MODEL},
    "GENERATION": {
        "temperature": 0.2,
        "top_k": 32,
        "top_p": 0.7,
        "max_output_tokens": 2048,
        # On 2.5 models thinking tokens count against max_output_tokens; the structured
        # answers need none. -1 lets the model decide (models that cannot turn it off).
        "thinking_budget": env.int("GEMINI_THINKING_BUDGET", default=0),
    },
    "RETRY": {"max_attempts": 3, "backoff_seconds": 1.0, "max_backoff_seconds": 10.0},
    "TIMEOUT_SECONDS": env.float("GEMINI_TIMEOUT_SECONDS", default=30.0),
    "CACHE_TTL_SECONDS": 300,
    # Per user, counted in the shared cache (Redis when configured).
    "RATE_LIMITS": {
        "food_recognition": env.str("AI_RATE_FOOD_RECOGNITION", default="30/hour"),
        "food_text": env.str("AI_RATE_FOOD_TEXT", default="60/hour"),
        "form_check": env.str("AI_RATE_FORM_CHECK", default="30/hour"),
        "chat": env.str("AI_RATE_CHAT", default="120/hour"),
        "recommendations": env.str("AI_RATE_RECOMMENDATIONS", default="30/hour"),
    },
}

# What of a conversation is sent with each message: the newest messages within both limits
# (about 4 characters a token); older ones are summarised in a line.
AI_COACH = {
    "HISTORY_CHARS": env.int("AI_CHAT_HISTORY_CHARS", default=16_000),
    "HISTORY_MESSAGES": env.int("AI_CHAT_HISTORY_MESSAGES", default=40),
}

AI_RECOGNITION = {
    # Task-level retries after a transient provider failure outlasted the client's own
    # quick retries (AI_SERVICE["RETRY"]); waits RETRY_BACKOFF_SECONDS, then twice that...
    "MAX_RETRIES": 2,
    "RETRY_BACKOFF_SECONDS": 5,
    # Runs of one job at most, retries and redeliveries after a lost worker included: a
    # photo that kills every worker it reaches fails instead of circulating for ever.
    "MAX_ATTEMPTS": 5,
    # The task's own limits; a soft limit fails the job, the hard one ends the process.
    "SOFT_TIME_LIMIT_SECONDS": 120,
    "TIME_LIMIT_SECONDS": 150,
    # The periodic sweep fails jobs untouched this long: running (longer than the hard
    # limit plus the broker's visibility timeout, CELERY_BROKER_TRANSPORT_OPTIONS, so
    # neither a live run nor the redelivery of a lost one is swept) or pending (never
    # picked up: a lost message).
    "STUCK_RUNNING_SECONDS": 600,
    "STUCK_PENDING_SECONDS": 900,
    # The longest `Prefer: wait=N` honoured.
    "MAX_WAIT_SECONDS": 30,
    # A waiting request wakes on the job's `job.finished` event; should that be lost, it
    # reads the job again after this long without one.
    "WAIT_RECHECK_SECONDS": 5,
}

# Gemini's prices in US dollars per million tokens, for the estimated cost of AI calls
# (metrics and analytics). Thinking tokens are billed as output. Defaults: gemini-2.5-flash.
AI_PRICE_INPUT_PER_MILLION = env.float("AI_PRICE_INPUT_PER_MILLION", default=0.30)
AI_PRICE_OUTPUT_PER_MILLION = env.float("AI_PRICE_OUTPUT_PER_MILLION", default=2.50)

# --- Migration off Firebase and Supabase --------------------------------------------------
# The dual-write period: while old app versions still write to Supabase, a beat task imports
# what changed since the last run every MIGRATION_DELTA_INTERVAL seconds (0: off, no entry;
# see the periodic tasks below).
MIGRATION_SUPABASE_URL = env.str("MIGRATION_SUPABASE_URL", default="")
MIGRATION_MAPPING_FILE = env.str("MIGRATION_MAPPING_FILE", default="")
MIGRATION_DELTA_INTERVAL = env.int("MIGRATION_DELTA_INTERVAL", default=0)
if MIGRATION_DELTA_INTERVAL > 0 and not MIGRATION_SUPABASE_URL:
    raise ImproperlyConfigured("MIGRATION_DELTA_INTERVAL needs MIGRATION_SUPABASE_URL.")

# --- Rollout: flags, kill switches, app-version gate ---------------------------------------
# Flags are waffle's, with platform and version rules (rollout.Flag); waffle's percentage
# cookie is not used (rollout.flags buckets by user or install id).
WAFFLE_FLAG_MODEL = "rollout.Flag"
# A switch with no row is on: switches exist to turn a feature off deliberately.
WAFFLE_SWITCH_DEFAULT = True
# rollout.admin registers flags and switches with the audit trail instead.
WAFFLE_ENABLE_ADMIN_PAGES = False
WAFFLE_CACHE_PREFIX = "waffle:"
# The floor of the app-version gate per platform (unset: no gate until staff set one in
# the admin, which can only raise it). Apps below it answer 426 app_update_required.
MIN_APP_VERSION = {
    "ios": env.str("MIN_APP_VERSION_IOS", default=""),
    "android": env.str("MIN_APP_VERSION_ANDROID", default=""),
}
for _platform, _minimum in MIN_APP_VERSION.items():
    if _minimum:
        try:
            Version(_minimum)
        except InvalidVersion as exc:
            raise ImproperlyConfigured(
                f"MIN_APP_VERSION_{_platform.upper()} must be a version such as 2.4.1."
            ) from exc
# How long a process may serve values and minimum versions from the shared cache; every
# change in the admin drops them at once, so this only bounds a missed invalidation.
ROLLOUT_CACHE_SECONDS = env.int("ROLLOUT_CACHE_SECONDS", default=300)
# --- Offline sync -------------------------------------------------------------------------
# Sync tombstones (deletions and lost access a device has yet to pull) older than this are
# pruned; a device that last pulled before that gets everything again in full.
SYNC_TOMBSTONE_RETENTION_DAYS = env.int("SYNC_TOMBSTONE_RETENTION_DAYS", default=90)
# --- Product analytics --------------------------------------------------------------------
# Events older than this (by when they happened) are deleted nightly; the rollups keep
# their figures.
ANALYTICS_RETENTION_DAYS = env.int("ANALYTICS_RETENTION_DAYS", default=400)
# Batches of client events one user may post (POST /api/v1/analytics/events).
ANALYTICS_CLIENT_RATE = env.str("ANALYTICS_CLIENT_RATE", default="60/minute")
# The key of the pseudonymous id events carry (analytics.identity); changing it starts
# every user's history afresh, so it has its own setting rather than following SECRET_KEY.
ANALYTICS_PSEUDONYM_KEY = env.str("ANALYTICS_PSEUDONYM_KEY", default="") or SECRET_KEY

# --- E-mail -------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Future Fitness <no-reply@futurefitness.app>"
)

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security -----------------------------------------------------------------------------
# X-Forwarded-* are believed only behind proxies the operator declares (NUM_PROXIES): the
# client IP is then the NUM_PROXIES-th address from the right of X-Forwarded-For (DRF's
# throttles, the admin lockout) and the scheme is X-Forwarded-Proto, which TLS-ending load
# balancers (Google's, HAProxy) set on every request, overwriting any the client sent.
# Without proxies a client could claim either, so both are ignored. uvicorn itself trusts
# none of them (bin/web: --no-proxy-headers), so this is the one place that decides.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES > 0 else None
# Redirecting here rather than silencing W008: whether the load balancer also redirects
# (a separate HTTP frontend and URL map that can be missing or misconfigured) is out of
# this service's sight, and a plain-HTTP request that reaches it should never be served.
# The load balancer's health checks go straight to the backend over HTTP without the
# header, hence the exempt probes.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a one-way commitment for the whole domain; operators opt in with
    # SECURE_HSTS_PRELOAD=true once every subdomain serves HTTPS.
    "security.W021",
]

# --- Logging: one JSON object per line in Cloud Logging's format -------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# The Google Cloud project whose Cloud Trace holds the traces: log lines name their trace as
# `projects/<project>/traces/<id>`, which is what links them in the console.
LOG_TRACE_PROJECT = env.str("GOOGLE_CLOUD_PROJECT", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "fitness.logging.RequestIDFilter"}},
    "formatters": {"json": {"()": "fitness.logging.CloudLoggingFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "INFO"},
        # axes says hello at INFO in every process; its failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # uvicorn's own lines in the same JSON; its access line is ours (fitness.request).
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"level": "WARNING"},
        # A task's line is ours (fitness.task); Celery's own "succeeded" line would repeat
        # it with the task's return value in it. Failures keep their traceback (ERROR).
        "celery.app.trace": {"level": "WARNING"},
        # Celery's "received" line stays: it is each delivery, so a redelivered job (a worker
        # stopped mid-task) shows as a second one before its single finished line.
    },
}

# --- Metrics: Prometheus at /metrics (fitness.observability.metrics) ----------------------
# A scraper sends `Authorization: Bearer <METRICS_TOKEN>` or calls from one of the networks
# in METRICS_ALLOWED_CIDRS; with neither set, /metrics answers 403 to everyone.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
try:
    METRICS_ALLOWED_CIDRS = [
        ipaddress.ip_network(cidr) for cidr in env.list("METRICS_ALLOWED_CIDRS", default=[])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_CIDRS: {exc}") from exc
# A Celery worker serves no HTTP: with a port here its main process answers /metrics there
# (the same check), for its whole pool, which needs PROMETHEUS_MULTIPROC_DIR to be seen.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)

# --- Sentry (fitness.observability.sentry): errors reported when SENTRY_DSN is set --------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
# The deployed version, e.g. the image's git commit; Cloud Run names its revision in K_REVISION.
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default=env.str("K_REVISION", default=""))
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1.")
init_sentry(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
)

# --- Periodic tasks (Celery beat) ---------------------------------------------------------
CELERY_BEAT_SCHEDULE = {
    # Also flushes ended sessions and login-attempt windows.
    "flush-expired-tokens": {
        "task": "accounts.tasks.flush_expired_tokens",
        "schedule": timedelta(days=1),
    },
    "storage-delete-expired-files": {
        "task": "storage.tasks.delete_expired_files",
        "schedule": timedelta(hours=1),
    },
    "ai-fail-stuck-recognition-jobs": {
        "task": "ai_assistant.tasks.fail_stuck_recognition_jobs",
        "schedule": timedelta(minutes=1),
    },
    "social-finalize-challenges": {
        "task": "social.tasks.finalize_challenges",
        "schedule": timedelta(minutes=10),
    },
    "sync-prune-tombstones": {
        "task": "sync.tasks.prune_tombstones",
        "schedule": timedelta(days=1),
    },
    # Just after midnight UTC: yesterday's rollups, then the retention purge.
    "analytics-nightly": {
        "task": "analytics.tasks.nightly",
        "schedule": crontab(hour=0, minute=15),
    },
}
if MIGRATION_DELTA_INTERVAL > 0:
    CELERY_BEAT_SCHEDULE["migration-supabase-delta"] = {
        "task": "migration.tasks.import_supabase_delta",
        "schedule": timedelta(seconds=MIGRATION_DELTA_INTERVAL),
    }
