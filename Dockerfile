# corral in a container: the Bun single binary (scripts/compile.ts) on a small Debian image.
#
#   docker build -t corral .
#   docker run --rm -p 8000:8000 -e WEB_CONCURRENCY=4 corral
#   docker stop -t 35 CONTAINER    # TERM, then 30 s (--graceful-timeout) for requests in flight
#
# Your own app: docker build --build-arg APP_DIR=path/to/app -t my-app . && docker run my-app app.ts
# Settings: PORT and WEB_CONCURRENCY, CORRAL_CMD_ARGS="--max-requests 1000", a corral.config.json
# in the app's folder, or flags after the image name.

# --- build: bun and deno come from the npm registry, as in development ---
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY cli.ts mod.ts deno.json ./
COPY lib/ lib/
COPY scripts/ scripts/
RUN node_modules/.bin/bun scripts/compile.ts --runtime bun --output /out/corral

# --- run: glibc for the binary, curl for the health check, nothing else ---
FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin corral
COPY --from=build /out/corral /usr/local/bin/corral
ARG APP_DIR=examples
WORKDIR /app
COPY --chown=corral:corral ${APP_DIR}/ /app/
USER corral
# PORT makes corral bind 0.0.0.0:$PORT; WEB_CONCURRENCY (unset: 1 worker) is the number of workers.
ENV PORT=8000 \
    HEALTHCHECK_PATH=/
EXPOSE 8000
# TERM is corral's graceful stop: workers finish their requests within --graceful-timeout.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT}${HEALTHCHECK_PATH}" || exit 1
ENTRYPOINT ["/usr/local/bin/corral"]
CMD ["hello.ts"]
