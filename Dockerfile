FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GATEWAY_POLICY_DIR=/app/policies \
    GATEWAY_DATABASE_URL=sqlite:////data/gateway.db \
    GATEWAY_MASTER_KEY_FILE=/data/master.key

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY policies ./policies
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /app gateway \
 && mkdir -p /data && chown gateway /data

USER gateway
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["consent-gateway"]
CMD ["serve", "--migrate", "--host", "0.0.0.0", "--port", "8000"]
