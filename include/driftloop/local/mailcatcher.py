"""A local mail catcher: a small SMTP server (aiosmtpd) that keeps every message as a file.

``make airflow`` starts one and points Airflow's ``smtp_default`` connection at it, so a newcomer
sees the alerts in ``$DRIFTLOOP_HOME/mail/`` without any mail account; the tests use the same
server. Each message is saved as ``<n>-<subject>.eml`` (readable as text, openable by mail clients).

Run alone: ``python -m driftloop.local.mailcatcher FOLDER [PORT]``.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

__all__ = ["MAIL_DIR", "MailCatcher", "free_port", "local_alert_env", "read_messages"]

MAIL_DIR = "mail"  # under DRIFTLOOP_HOME

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _SaveHandler:
    """aiosmtpd handler: write each accepted message to the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = (
            envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        )
        msg = message_from_bytes(data, policy=policy.default)
        n = len(list(self.folder.glob("*.eml"))) + 1
        name = _UNSAFE.sub("_", str(msg.get("Subject", "no subject")))[:80]
        tmp = self.folder / f".{n:04d}.tmp"
        tmp.write_bytes(data)
        tmp.rename(self.folder / f"{n:04d}-{name}.eml")  # complete files only
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on ``host:port`` (a free port if 0) saving messages into ``folder``."""

    def __init__(self, folder: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        from aiosmtpd.controller import Controller

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port or free_port(host)
        self._controller = Controller(_SaveHandler(self.folder), hostname=host, port=self.port)

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self) -> list[EmailMessage]:
        return read_messages(self.folder)


def local_alert_env(port: int, environ: dict[str, str]) -> dict[str, str]:
    """Environment of the local stack's processes: Airflow's ``smtp_default`` connection points at
    the catcher on ``port``, and alerts are on; a user's own settings in ``environ`` win."""
    import json

    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "driftloop@localhost"},
    }
    env = {"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn), "DRIFTLOOP__ALERTS__ENABLED": "true"}
    return {k: v for k, v in env.items() if k not in environ}


def read_messages(folder: str | Path) -> list[EmailMessage]:
    """The messages saved in ``folder``, oldest first."""
    out = []
    for p in sorted(Path(folder).glob("*.eml")):
        msg = message_from_bytes(p.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted (used by the local stack as a background process)."""
    args = sys.argv[1:] if argv is None else argv
    catcher = MailCatcher(args[0], port=int(args[1]) if len(args) > 1 else 1025).start()
    print(f"mail catcher on {catcher.host}:{catcher.port}, saving to {catcher.folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        catcher.stop()


if __name__ == "__main__":
    main()
