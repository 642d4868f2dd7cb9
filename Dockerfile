# PACKAGE.broker, self-hosted: `docker build -t package-broker .`, then see README.md "Deploying with Docker".
FROM python:3.13-slim-bookworm

# git (and ssh) for plain-git sources; tini reaps git's child processes and forwards signals.
# Unpinned on purpose: the base image's Debian release fixes their versions, and pinning would stop
# security updates (a rebuild picks them up).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/broker broker \
 && mkdir /data && chown broker:broker /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# With the PostgreSQL, Redis and S3 drivers, so replicas can share one database, cache and bucket.
# The package installed is this source tree; its dependencies are bounded in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --disable-pip-version-check ".[postgresql,redis,s3]" \
 && package-broker --version

ENV DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    PYTHONUNBUFFERED=1

USER broker
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=4).status == 200 else 1)"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["package-broker", "serve"]
