"""What a stop that hangs says about where it hangs (the watchdog's last line)."""

from __future__ import annotations

import asyncio
import threading
import time

from streams.cli import stopping
from streams.kafka import clients


def test_a_hung_stop_names_the_clean_up_it_waits_in() -> None:
    class Hanging:
        async def stop(self) -> None:
            await asyncio.sleep(30)

    seen: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def look() -> None:
            time.sleep(0.3)  # the main task is waiting by then
            seen.append(stopping._where_stuck(loop))

        threading.Thread(target=look).start()
        await clients.close(Hanging(), timeout_s=1.0)

    asyncio.run(main())
    assert seen and seen[0].startswith("waiting in close at streams/kafka/clients.py:"), seen
    assert "sleep at tasks.py" not in seen[0]  # a future ends the await chain


def test_a_thread_blocked_outside_a_loop_is_found_on_its_stack() -> None:
    seen: list[str] = []

    def look() -> None:
        time.sleep(0.3)
        seen.append(stopping._where_stuck(None))

    threading.Thread(target=look).start()
    time.sleep(0.6)  # the main thread, "hung"
    assert seen and seen[0].startswith("waiting in test_a_thread_blocked"), seen
