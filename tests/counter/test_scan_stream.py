"""The serial-scan event stream: a scan read on the scanner's thread reaches every open counter
page, however long the stream sat idle before it."""

from __future__ import annotations

import asyncio
import threading

from app.counter.scans import ScanHub, scan_events


async def _never() -> bool:
    return False


def test_a_scan_after_an_idle_spell_still_reaches_the_stream() -> None:
    async def scenario() -> list[bytes]:
        hub = ScanHub()
        queue = hub.subscribe()
        stream = scan_events(hub, queue, disconnected=_never, keep_alive=0.05)
        chunks = [await anext(stream), await anext(stream)]  # connected, then idle
        # The scanner's reader thread publishes, as devices.SerialScanner's on_scan does.
        reader = threading.Thread(target=hub.publish, args=("DKP-ABC123", None))
        reader.start()
        chunks.append(await anext(stream))
        reader.join()
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == [
        b": connected\n\n",
        b": keep-alive\n\n",
        b'event: scan\ndata: {"code": "DKP-ABC123", "symbology": null}\n\n',
    ]


def test_a_closed_stream_stops_receiving_and_others_still_do() -> None:
    async def scenario() -> tuple[int, int]:
        hub = ScanHub()
        leaving, staying = hub.subscribe(), hub.subscribe()
        stream = scan_events(hub, leaving, disconnected=_never)
        await anext(stream)
        await stream.aclose()
        hub.publish("]d2010501234567890017270331", "]d2")
        await asyncio.sleep(0)  # let call_soon_threadsafe run
        return leaving.qsize(), staying.qsize()

    assert asyncio.run(scenario()) == (0, 1)
