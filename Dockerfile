# Built from pinned versions: requirements.lock (make lock) holds every runtime dependency.
FROM python:3.11.7-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GATEWAY_DATABASE_URL=sqlite:////data/gateway.db \
    GATEWAY_MASTER_KEY_FILE=/run/secrets/gateway_master_key \
    GATEWAY_AUDIT_ARCHIVE_DIR=/data/archive \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics

# DejaVu Sans: the Unicode font of the portal's PDF summary (Latin and Cyrillic).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY policies ./policies
# The wheel's default policies land in /usr/local/share/consent-gateway/policies.
RUN pip install --no-deps . \
 && useradd --system --uid 10001 --home-dir /app gateway \
 && mkdir -p /data && chown gateway /data

USER gateway
# The data volume holds the database only: the master key comes from GATEWAY_MASTER_KEY or a
# secret mounted at /run/secrets/gateway_master_key, never from /data.
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2).status == 200 else 1)"
ENTRYPOINT ["consent-gateway"]
CMD ["serve", "--migrate", "--host", "0.0.0.0", "--port", "8000"]
