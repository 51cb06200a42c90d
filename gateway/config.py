"""Settings, read once from environment variables with defaults that make the demo work."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY_FILES = ("model.conf", "policy.csv", "purposes.yaml")


def installed_policy_dir() -> Path:
    """Where a wheel installs the default policies (`data-files` in pyproject.toml)."""
    return Path(sys.prefix) / "share" / "consent-gateway" / "policies"


def _default_policy_dir() -> Path:
    # A source checkout (and an editable install) keeps policies/ next to the package; an
    # installed wheel ships them under <prefix>/share/consent-gateway/policies.
    checkout = _REPO_ROOT / "policies"
    if (checkout / "model.conf").exists():
        return checkout
    return installed_policy_dir()


class PolicyDirError(SystemExit):
    """The policy directory is missing a file; the message says what to set."""


def require_policy_dir(policy_dir: Path) -> Path:
    """`policy_dir` when it holds the casbin model, the policy and the purposes."""
    missing = [name for name in POLICY_FILES if not (policy_dir / name).is_file()]
    if missing:
        raise PolicyDirError(
            f"no {', '.join(missing)} in {policy_dir}: set GATEWAY_POLICY_DIR to a directory "
            f"holding {', '.join(POLICY_FILES)} (a source checkout's policies/, or "
            f"{installed_policy_dir()} of an installed wheel)"
        )
    return policy_dir


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment.

    `GATEWAY_DATABASE_URL` defaults to an SQLite file under `./var/`; the master key comes from
    `GATEWAY_MASTER_KEY` (urlsafe base64 of 32 bytes) or, when unset, from a key file created
    once with mode 0600. Data keys are wrapped by master key versions: version 1 derives
    from that key, further versions come from `GATEWAY_MASTER_KEYS` (see
    gateway/privacy/keyring.py).
    """

    database_url: str = "sqlite:///./var/gateway.db"
    master_key: str | None = None
    master_key_file: Path = Path("./var/master.key")
    master_keys: str | None = None  # further master key versions for data keys: "2=KEY,3=KEY"
    master_key_current: int | None = None  # the version new data keys use (default: highest)
    policy_dir: Path = field(default_factory=_default_policy_dir)
    max_page_size: int = 100
    default_page_size: int = 20
    max_body_bytes: int = 64 * 1024
    max_query_depth: int = 8
    max_aliases: int = 30
    max_tokens: int = 4000
    max_directives: int = 20  # directives in one document (@include/@skip; unknown ones too)
    introspection: bool = False  # on in `make demo` (GATEWAY_INTROSPECTION=true)
    # GET for queries: off, since a URL (variables included: an email filter, say) ends up in
    # proxy and access logs; mutations are never run through GET.
    http_get: bool = False
    # Rate limits and quotas per role (policies/limits.yaml), counted in this storage:
    # redis://127.0.0.1:6379/0 to share them across workers and replicas (see README).
    rate_limits: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_namespace: str = "gateway"  # key prefix: deployments sharing a Redis differ
    app_cache_seconds: int = 5
    threads_per_worker: int = 2
    log_level: str = "info"
    log_format: str = "json"  # json lines (production) or text (GATEWAY_LOG_FORMAT=text)
    shutdown_seconds: int = 30  # on SIGTERM, how long in-flight requests may still take
    worker_healthcheck_seconds: int = 60  # a worker silent for this long is restarted
    audit_checkpoint_every: int = 1000  # sign the chain head every N entries ...
    audit_checkpoint_seconds: int = 60  # ... or when the last checkpoint is older than this
    # Reads' audit entries committed in groups by one thread per worker (gateway/audit/group);
    # off: each request commits its own entry (writes always do, with their change).
    audit_group_commit: bool = True
    audit_archive_dir: Path = Path("./var/archive")
    audit_retention_days: int = 0  # archive entries older than this (0: keep them all live)
    # activation (gateway/activation): where messages may go and how the outbox worker runs
    activation_allowed_urls: str = ""  # comma-separated URL prefixes webhooks may post to
    activation_private_networks: str = ""  # CIDRs a webhook may reach although private
    activation_public_url: str = "http://127.0.0.1:8000"  # the gateway itself: never a target
    activation_drop_dir: Path = Path("./var/drops")  # file drops live under this directory
    activation_worker: bool = False  # run the outbox worker inside `serve`
    activation_poll_seconds: float = 0.5
    activation_batch_size: int = 500
    activation_max_attempts: int = 8
    activation_retry_base_seconds: float = 5.0
    activation_retry_max_seconds: float = 3600.0
    activation_lease_seconds: float = 120.0
    activation_http_timeout: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from `GATEWAY_*` environment variables."""
        env = os.environ
        return cls(
            database_url=env.get("GATEWAY_DATABASE_URL") or cls.database_url,
            master_key=env.get("GATEWAY_MASTER_KEY") or None,
            master_key_file=Path(env.get("GATEWAY_MASTER_KEY_FILE") or "./var/master.key"),
            master_keys=env.get("GATEWAY_MASTER_KEYS") or None,
            master_key_current=_int("GATEWAY_MASTER_KEY_CURRENT", 0) or None,
            policy_dir=Path(env["GATEWAY_POLICY_DIR"]) if env.get("GATEWAY_POLICY_DIR")
            else _default_policy_dir(),
            max_page_size=_int("GATEWAY_MAX_PAGE_SIZE", 100),
            default_page_size=_int("GATEWAY_DEFAULT_PAGE_SIZE", 20),
            max_body_bytes=_int("GATEWAY_MAX_BODY_BYTES", 64 * 1024),
            max_query_depth=_int("GATEWAY_MAX_QUERY_DEPTH", 8),
            max_aliases=_int("GATEWAY_MAX_ALIASES", 30),
            max_tokens=_int("GATEWAY_MAX_TOKENS", 4000),
            max_directives=_int("GATEWAY_MAX_DIRECTIVES", 20),
            introspection=_bool("GATEWAY_INTROSPECTION", False),
            http_get=_bool("GATEWAY_HTTP_GET", False),
            rate_limits=_bool("GATEWAY_RATE_LIMITS", True),
            rate_limit_storage=env.get("GATEWAY_RATE_LIMIT_STORAGE") or "memory://",
            rate_limit_namespace=env.get("GATEWAY_RATE_LIMIT_NAMESPACE") or "gateway",
            app_cache_seconds=_int("GATEWAY_APP_CACHE_SECONDS", 5),
            threads_per_worker=_int("GATEWAY_THREADS_PER_WORKER", 2),
            log_level=env.get("GATEWAY_LOG_LEVEL") or "info",
            log_format=env.get("GATEWAY_LOG_FORMAT") or "json",
            shutdown_seconds=_int("GATEWAY_SHUTDOWN_SECONDS", 30),
            worker_healthcheck_seconds=_int("GATEWAY_WORKER_HEALTHCHECK_SECONDS", 60),
            audit_checkpoint_every=_int("GATEWAY_AUDIT_CHECKPOINT_EVERY", 1000),
            audit_checkpoint_seconds=_int("GATEWAY_AUDIT_CHECKPOINT_SECONDS", 60),
            audit_group_commit=_bool("GATEWAY_AUDIT_GROUP_COMMIT", True),
            audit_archive_dir=Path(env.get("GATEWAY_AUDIT_ARCHIVE_DIR") or "./var/archive"),
            audit_retention_days=_int("GATEWAY_AUDIT_RETENTION_DAYS", 0),
            activation_allowed_urls=env.get("GATEWAY_ACTIVATION_ALLOWED_URLS") or "",
            activation_private_networks=env.get("GATEWAY_ACTIVATION_PRIVATE_NETWORKS") or "",
            activation_public_url=env.get("GATEWAY_PUBLIC_URL") or cls.activation_public_url,
            activation_drop_dir=Path(env.get("GATEWAY_ACTIVATION_DROP_DIR") or "./var/drops"),
            activation_worker=_bool("GATEWAY_ACTIVATION_WORKER", False),
            activation_poll_seconds=_float("GATEWAY_ACTIVATION_POLL_SECONDS", 0.5),
            activation_batch_size=_int("GATEWAY_ACTIVATION_BATCH_SIZE", 500),
            activation_max_attempts=_int("GATEWAY_ACTIVATION_MAX_ATTEMPTS", 8),
            activation_retry_base_seconds=_float("GATEWAY_ACTIVATION_RETRY_BASE_SECONDS", 5.0),
            activation_retry_max_seconds=_float("GATEWAY_ACTIVATION_RETRY_MAX_SECONDS", 3600.0),
            activation_lease_seconds=_float("GATEWAY_ACTIVATION_LEASE_SECONDS", 120.0),
            activation_http_timeout=_float("GATEWAY_ACTIVATION_HTTP_TIMEOUT", 10.0),
        )
