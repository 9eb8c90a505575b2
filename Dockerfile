# corral in a container: the Bun single binary (scripts/compile.ts) and an app with its dependencies,
# on a small Debian image.
#
#   docker build -t corral .
#   docker run --rm -p 8000:8000 -e WEB_CONCURRENCY=4 --sysctl net.ipv4.tcp_migrate_req=1 corral
#   docker stop -t 35 CONTAINER    # TERM, then 30 s (--graceful-timeout) for requests in flight
#
# Your own app: a folder with app.ts and, if it imports packages, its package.json and
# package-lock.json (npm ci installs them in the image):
#   docker build --build-arg APP_DIR=path/to/app --build-arg HEALTHCHECK_PATH=/healthz -t my-app .
#   docker run my-app app.ts
# Settings: PORT and WEB_CONCURRENCY, CORRAL_CMD_ARGS="--max-requests 1000", a corral.config.json
# in the app's folder, or flags after the image name. HEALTHCHECK_PATH: the path the health check
# requests (a build argument, and an environment variable at run time).
#
# Base images are pinned by digest (node:22.23.3-bookworm-slim and debian:bookworm-slim, both
# multi-arch index digests). They were taken from public repositories that pin the same digests
# (Dependabot updates and BuildKit build logs), not checked against Docker Hub, which was out of
# reach where this was written: `docker buildx imagetools inspect IMAGE:TAG` shows the current ones.

# --- build: bun and deno come from the npm registry, as in development ---
FROM node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY cli.ts mod.ts deno.json ./
COPY lib/ lib/
COPY scripts/ scripts/
RUN node_modules/.bin/bun scripts/compile.ts --runtime bun --output /out/corral

# --- app: the app's own dependencies, from its package-lock.json ---
FROM node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c AS app
ARG APP_DIR=examples/docker_app
WORKDIR /app
COPY ${APP_DIR}/ /app/
RUN if [ -f package-lock.json ]; then npm ci --omit=dev --no-audit --no-fund; \
  elif [ -f package.json ]; then npm install --omit=dev --no-audit --no-fund; fi

# --- run: glibc for the binary, curl for the health check, nothing else ---
FROM debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin corral
COPY --from=build /out/corral /usr/local/bin/corral
# Owned by root: the runtime user reads the app and its node_modules, and cannot change them.
COPY --from=app /app /app
WORKDIR /app
USER corral
ARG HEALTHCHECK_PATH=/healthz
# PORT makes corral bind 0.0.0.0:$PORT; WEB_CONCURRENCY (unset: 1 worker) is the number of workers.
ENV PORT=8000 \
    HEALTHCHECK_PATH=${HEALTHCHECK_PATH}
EXPOSE 8000
# TERM is corral's graceful stop: workers finish their requests within --graceful-timeout.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT}${HEALTHCHECK_PATH}" || exit 1
ENTRYPOINT ["/usr/local/bin/corral"]
CMD ["app.ts"]
