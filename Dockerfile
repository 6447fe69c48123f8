# One image for every helmq service in docker-compose.yml: migrate, beat, the workers, the UI
# and Flower. Each service picks its process with `command:` (helmq … or celery -A tasks …).
FROM python:3.11-slim

# git: every item is worked on in a worktree on a branch of its own. Every Python dependency
# ships wheels, so no compiler is needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/helmq
COPY pyproject.toml README.md beat_schedule.py ./
COPY helmq ./helmq
COPY tasks ./tasks
COPY handlers ./handlers
# The deploy extra adds Flower; helmq itself needs nothing else.
RUN pip install ".[deploy]"

# Run as an unprivileged user. The state dir (worktrees, reports, transcripts, beat's
# schedule) is a volume; it is created here so a new named volume inherits this ownership.
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin helmq \
 && mkdir -p /var/lib/helmq /etc/helmq \
 && chown helmq:helmq /var/lib/helmq
USER helmq
WORKDIR /home/helmq
# Repositories mounted from the host belong to another uid, which git refuses as "dubious
# ownership" unless they are declared safe.
ENV HELMQ_STATE_DIR=/var/lib/helmq \
    HELMQ_CONFIG=/etc/helmq/jobs.yaml \
    GIT_CONFIG_COUNT=1 \
    GIT_CONFIG_KEY_0=safe.directory \
    GIT_CONFIG_VALUE_0=*
VOLUME ["/var/lib/helmq"]

# No ENTRYPOINT: `docker run IMAGE helmq scan` and `docker run IMAGE celery -A tasks …` both
# work, and compose services name their process in `command:`.
CMD ["helmq", "--help"]
