# One image for both halves: `uvicorn app.main:app` (API) and `python worker.py` (worker).
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY app ./app
COPY workflows ./workflows
COPY activities ./activities
COPY mcos ./mcos
COPY worker.py ./
RUN pip install .
COPY --from=web /src/web/dist ./web/dist
ENV MCOS_WEB_DIST=/app/web/dist
EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
