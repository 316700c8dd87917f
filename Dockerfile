# One image for both halves: `mcos api` (API) and `mcos worker` (worker).
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# The Google Calendar MCP server (per-user calendar sync runs it over stdio), pinned, so
# no `npx -y` download at run time; node comes along into the final image.
FROM node:20-bookworm-slim AS gcal
WORKDIR /opt/gcal-mcp
RUN npm install --no-audit --no-fund --omit=dev @cocal/google-calendar-mcp@2.6.3

FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# The locked, sha256-checked dependencies first (a layer that survives code changes), then
# the project itself without resolving anything.
COPY requirements/base.txt ./requirements/base.txt
RUN pip install --require-hashes -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY app ./app
COPY workflows ./workflows
COPY activities ./activities
COPY mcos ./mcos
COPY worker.py ./
RUN pip install --no-deps .
COPY --from=web /src/web/dist ./web/dist
COPY --from=gcal /usr/local/bin/node /usr/local/bin/node
COPY --from=gcal /opt/gcal-mcp /opt/gcal-mcp
ENV MCOS_WEB_DIST=/app/web/dist \
    MCOS_GOOGLE_CALENDAR_MCP_COMMAND="node /opt/gcal-mcp/node_modules/@cocal/google-calendar-mcp/build/index.js"
# 8000: the API; 8081: a worker's /health and /metrics when MCOS_WORKER_HEALTH_PORT=8081
EXPOSE 8000 8081
CMD ["mcos", "api"]
