# The takeamoment app image. Alone it serves the embedded default (SQLite in /app, in-memory
# Channels); docker-compose.yml runs it against PostgreSQL and Redis.

# Build the wheel from the source tree; only the wheel reaches the final image.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group takeamoment

# An installed package, not an editable copy: the migrations ship inside it
# (takeamoment/migrations), so the image holds no source tree.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels

# /app belongs to the app user: the embedded default writes its SQLite file and its development
# secret into the working directory.
WORKDIR /app
RUN chown takeamoment:takeamoment /app

USER takeamoment
EXPOSE 8000

# slim has no curl; urlopen raises on a refused connection or a non-2xx answer, so the exit is 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["takeamoment", "serve", "--host", "0.0.0.0", "--port", "8000"]
