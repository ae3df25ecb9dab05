# The gateway image: Python 3.11 on Debian with OpenSSL's GOST engine.
# Used by docker-compose.yml for `gateway serve`, `gateway worker` and `gateway emulators`.
# The default command serves the gateway alone: no emulators and no test PKI are started
# (GATEWAY_RUN_EMULATORS=false); it refuses to start until the state systems' addresses,
# keys and trust are configured, and says which are missing.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libengine-gost-openssl ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY signing ./signing
COPY queues ./queues
COPY emulators ./emulators
RUN pip install --no-cache-dir .

RUN useradd --system --uid 10001 --home /var/lib/gateway gateway \
 && mkdir -p /var/lib/gateway && chown gateway /var/lib/gateway
USER gateway
ENV GATEWAY_DATA_DIR=/var/lib/gateway \
    GATEWAY_RUN_EMULATORS=false \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
CMD ["gateway", "serve"]
