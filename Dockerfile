# social-switchboard: `switchboard serve` in a container (see README "Run it in production").
#   docker build -t social-switchboard .
#   docker run -v ./switchboard.yaml:/etc/switchboard/switchboard.yaml:ro -p 8080:8080 social-switchboard
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /var/lib/switchboard --create-home switchboard

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY handlers ./handlers
RUN python -m venv /opt/switchboard && /opt/switchboard/bin/pip install . && rm -rf /src

# The config file is mounted here (secrets as ${VARIABLES} in it, set with -e or an env file);
# bind to every interface inside the container: `server: {host: 0.0.0.0}` in that file.
ENV PATH=/opt/switchboard/bin:$PATH \
    SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.yaml \
    SWITCHBOARD_LOG_FORMAT=json
WORKDIR /var/lib/switchboard
USER switchboard
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchboard"]
CMD ["serve"]
