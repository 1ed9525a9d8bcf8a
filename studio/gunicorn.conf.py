"""gunicorn settings for production: ``gunicorn -c studio/gunicorn.conf.py``.

gthread workers: each process serves several requests at once on threads, so long responses such
as streamed (SSE) playground output don't starve the pool.
"""

from __future__ import annotations

import multiprocessing

from studio.env import env_int, env_str

wsgi_app = "studio.wsgi:application"
bind = [env_str("GUNICORN_BIND", f"0.0.0.0:{env_int('PORT', 8000)}")]
worker_class = "gthread"
workers = env_int("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count()))
# A playground stream holds its thread for seconds while providers answer, so size threads for the
# streams plus the pages: benchmarks/playground_streams showed 2 workers x 8 threads queueing 16 streams
# (and the pages behind them); 32 threads each keep pages fast with 16+ streams open.
threads = env_int("GUNICORN_THREADS", 32)
# gthread workers heartbeat from their main thread, so a long stream is not killed by this timeout.
timeout = env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can't grow without bound.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
# Trust X-Forwarded-* only from these proxy addresses (the TLS proxy in front).
forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = env_str("LOG_LEVEL", "INFO").lower()
