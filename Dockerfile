# The takeamoment app image. Alone it serves the embedded default (SQLite in /app, in-memory
# Channels); docker-compose.yml runs it against PostgreSQL and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group takeamoment

WORKDIR /app
COPY . .
# Editable on purpose: the code finds alembic.ini and migrations/ relative to the source tree
# (takeamoment/db/migrate.py), so the package stays in /app next to them.
RUN pip install --no-cache-dir -e . \
    && chown takeamoment:takeamoment /app
# /app itself (not the code in it) belongs to the app user: the embedded default writes its SQLite
# file and its development secret into the working directory.

USER takeamoment
EXPOSE 8000

# slim has no curl; urlopen raises on a refused connection or a non-2xx answer, so the exit is 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["takeamoment", "serve", "--host", "0.0.0.0", "--port", "8000"]
