"""A Faust agent that does nothing per message: the framework's own per-message cost."""

import os
import tempfile

import faust

app = faust.App(
    os.environ["NOOP_GROUP"],
    broker=f"kafka://{os.environ['NOOP_BROKER']}",
    store="memory://",
    datadir=os.path.join(tempfile.gettempdir(), "agentfold-{conf.name}-data"),
    broker_session_timeout=2.0,
    broker_heartbeat_interval=0.3,
    broker_commit_interval=0.5,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    key_serializer="raw",
    value_serializer="raw",
)
topic = app.topic(
    os.environ["NOOP_TOPIC"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


@app.agent(topic)
async def noop(stream):  # type: ignore[no-untyped-def]
    async for _ in stream.events():
        pass


if __name__ == "__main__":
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
