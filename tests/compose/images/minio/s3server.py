"""moto's S3 server on :9000, its state made durable: every request is appended to a record in the
data folder (moto's own recorder, serialised by a lock) and the record is replayed at start-up,
before the ready marker that `mc ready` looks for is written."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else "/data")
DATA.mkdir(parents=True, exist_ok=True)
RECORD = DATA / "moto-recording.jsonl"
READY = Path("/tmp/s3-ready")
PORT = 9000

os.environ["MOTO_ENABLE_RECORDING"] = "True"
os.environ["MOTO_RECORDER_FILEPATH"] = str(RECORD)

from moto.moto_api import recorder  # noqa: E402
from moto.moto_api._internal.recorder.models import Recorder  # noqa: E402
from moto.server import main  # noqa: E402

_lock = threading.Lock()
_record = Recorder._record_request


def _locked(self, *args, **kwargs):
    with _lock:
        return _record(self, *args, **kwargs)


Recorder._record_request = _locked  # type: ignore[method-assign]


def _replay() -> None:
    url = f"http://127.0.0.1:{PORT}/"
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    if RECORD.exists() and RECORD.stat().st_size:
        t0 = time.monotonic()
        # The recorder records nothing while it replays; nobody else is served before READY.
        recorder.replay_recording(target_host=url)
        print(f"s3 stand-in: replayed {RECORD} in {time.monotonic() - t0:.1f}s", flush=True)
    READY.write_text("ready")
    print("s3 stand-in: ready", flush=True)


READY.unlink(missing_ok=True)
threading.Thread(target=_replay, daemon=True).start()
main(["-H", "0.0.0.0", "-p", str(PORT)])
