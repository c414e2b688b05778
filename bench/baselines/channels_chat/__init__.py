"""The canonical Django Channels group chat on channels_redis (the comparison baseline).

``uvicorn bench.baselines.channels_chat.asgi:application`` with ``BENCH_REDIS_URL``.
"""
