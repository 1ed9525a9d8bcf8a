# Production image: gunicorn (gthread) for the web, the same image runs Celery workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDIO_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media

WORKDIR /app

RUN groupadd --system studio && useradd --system --gid studio --home-dir /app --shell /usr/sbin/nologin studio

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (WhiteNoise serves them). The key is a build-time
# placeholder: the real SECRET_KEY comes from the environment at run time.
RUN SECRET_KEY=build-time-only-placeholder-not-used-at-run-time-0123456789 DEBUG=false \
    python manage.py collectstatic --noinput \
    && rm -rf /app/var/broker \
    && mkdir -p /data/media \
    && chown -R studio:studio /app/var /data/media

USER studio

EXPOSE 8000

CMD ["gunicorn", "-c", "studio/gunicorn.conf.py"]
