"""Load one page of a worker again and again, from a process of its own.

``python -m tests.multiprocess.pageprobe URL COOKIE`` requests ``URL`` every
50 ms with the session cookie until its standard input closes, then prints
the time of each request (seconds, JSON) and exits. A process of its own, as
a person's browser is: timed in the test's event loop, a request would also
wait for the hundreds of sockets that loop serves.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx


def probe(url: str, cookie: str, stop: threading.Event) -> list[float]:
    times: list[float] = []
    with httpx.Client(cookies={"collab_session": cookie}, timeout=30, trust_env=False) as http:
        while not stop.is_set():
            started = time.monotonic()
            response = http.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            times.append(time.monotonic() - started)
            stop.wait(0.05)
    return times


def main() -> None:
    url, cookie = sys.argv[1], sys.argv[2]
    stop = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    print(json.dumps(probe(url, cookie, stop)), flush=True)


if __name__ == "__main__":
    main()
