# Prodrome in a container. Build:  docker build -t prodrome .
# (No `# syntax=` line: BuildKit would fetch that frontend from Docker Hub even when the base image
# is local, and hospitals often build offline against a mirrored registry. No BuildKit-only feature
# is used.)
# Run (see docs/INSTALL.md):
#   docker run -d --hostname prodrome-1 --stop-timeout 15 -p 127.0.0.1:9464:9464 \
#     -v prodrome-var:/app/var -v /etc/prodrome:/app/config:ro --env-file /etc/prodrome/prodrome.env prodrome
# The mounted config must set `http.listen: 0.0.0.0:9464`, or the port is reachable only from
# inside the container. Without REDIS_URL / redis.url the daemon runs its own redis-server under
# /app/var/redis: mount /app/var to keep incidents and queued tickets across containers.

# ---- build: compile TypeScript, then drop dev dependencies ------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src is copied: tests and benchmarks are not part of the image (tsc skips the absent globs).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# redis-server: the managed mode (used when no Redis URL is given).
# fping: the icmp probe's default engine. Its package sets the cap_net_raw file capability, so the
# non-root user can ping while the container keeps NET_RAW (Docker's default). With --cap-drop
# NET_RAW (or ALL) fping cannot even be started (spawn EPERM); under no-new-privileges it runs
# without the capability and gets no replies. Either way validate and /readyz say so at start.
# iputils-ping: the system ping, for icmp checks with `engine: ping`, which works on the unprivileged
# ICMP sockets Docker allows (net.ipv4.ping_group_range) where no-new-privileges is required.
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server fping iputils-ping \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so a bind-mounted /app/var can be chowned on the host (chown 10001:10001 …).
RUN groupadd --system --gid 10001 prodrome \
 && useradd --system --uid 10001 --gid prodrome --home-dir /app --no-create-home --shell /usr/sbin/nologin prodrome

WORKDIR /app
ENV NODE_ENV=production
# Code and config stay root-owned and read-only to the daemon; only var/ is writable.
# package.json is needed at runtime: its "type": "module" makes dist/*.js ES modules.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY config ./config
RUN mkdir -p /app/var && chown prodrome:prodrome /app/var && chmod 0750 /app/var

USER prodrome
EXPOSE 9464
# The slim image has no curl; Node 20 has fetch. /healthz answers 200 while the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains in-flight work (≤ 10 s) and stops the managed redis-server; run with
# --stop-timeout 15 so Docker does not SIGKILL it first.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli.js", "start"]
