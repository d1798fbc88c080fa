# syntax=docker/dockerfile:1
# The application image: the worker by default; the compose file runs the codec server from it
# too. The build stage compiles TypeScript with the dev dependencies; the runtime stage carries
# only production dependencies and dist/, owned by root and run as the unprivileged `node` user.
# Debian (glibc), not Alpine: the Temporal SDK's native core ships for glibc.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc, then the workflows prebuilt into dist/workflow-bundle.js: the worker loads that bundle
# instead of running webpack at every start.
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# tsc copies no assets: the worker's vault policy, read by dist/vault/ (vault setup from this image).
COPY --from=build /app/src/vault/worker-policy.hcl ./dist/vault/worker-policy.hcl
COPY --from=build /app/src/vault/trigger-policy.hcl ./dist/vault/trigger-policy.hcl
COPY package.json ./
# Files stay root-owned and read-only to the process: it has nothing to write but /tmp.
USER node
CMD ["node", "dist/worker.js"]
