# The homeserver image: builds the TypeScript sources and runs the compiled homeserver with
# the configuration mounted at /config/homeserver.yaml (relative paths in it resolve in /config).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY projections ./projections
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are applied at start-up from <package root>/migrations.
COPY migrations ./migrations
RUN mkdir -p /config /data /media && chown -R node:node /config /data /media
USER node
VOLUME ["/config", "/data", "/media"]
# 8008: client-server API (HTTP). 8448: federation API (HTTPS).
EXPOSE 8008 8448
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.HS_CLIENT_LISTENER__PORT || 8008) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# A 32 MB young generation per semi-space (V8's default is 16): fewer scavenges under load
# (docs/admin.md).
CMD ["node", "--max-semi-space-size=32", "--expose-gc", "dist/apps/homeserver/src/main.js", "--config", "/config/homeserver.yaml"]
