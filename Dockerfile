# The Tasques server image: Node.js 24 on Debian bookworm (slim), running as the unprivileged `node` user,
# SQLite on the /data volume, configured with TASQUES_SERVER_* variables (docs/reference/config.md).
#   docker build -t tasques .
#   docker run -p 8080:8080 -v tasques-data:/data tasques
# scripts/image-replay.mjs replays these steps without a container engine (see deploy/README.md).

ARG NODE_IMAGE=node:24-bookworm-slim

# ── build: compile better-sqlite3 and the TypeScript, then drop the dev dependencies ──────────────────
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
# Scripts off for the install (prepare would build before the sources are here); better-sqlite3 is
# then compiled on its own.
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY packages/client/tsconfig.json packages/client/
COPY packages/client/src packages/client/src
COPY src src
# Then only the compiled addon of better-sqlite3 stays (its sources and objects are ~30 MB).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# ── run: only what the server needs ──────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    TASQUES_SERVER_BIND_ADDRESS=0.0.0.0:8080 \
    TASQUES_SERVER_STORE_SQLITE_PATH=/data/tasques.db
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/packages/client/package.json packages/client/
COPY --from=build /src/packages/client/dist packages/client/dist
COPY bin bin
COPY dashboard dashboard
COPY openapi.json LICENSE ./
COPY deploy/docker/healthcheck.mjs deploy/docker/
# The code stays root-owned (read-only to the server); only /data is the server's.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.mjs"]
# node runs the server directly (no npm/npx/shell in between) so that SIGTERM reaches it: graceful stop.
STOPSIGNAL SIGTERM
# A young generation of at most 2 x 16 MiB (Node 24 grows it to 128 MiB here): docs/operations.md, "Memory".
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/tasques.mjs"]
CMD ["serve"]
