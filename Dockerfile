# quire: one image for every region. Runs the TypeScript sources through tsx (no build step).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY db ./db
COPY tsconfig.json ./
EXPOSE 4000
CMD ["node", "bin/quire.js", "serve"]
