"""Real alert receivers for tests: an HTTP webhook receiver on loopback (the SMTP side is
:class:`driftloop.local.mailcatcher.MailCatcher`), and the alert settings pointing at them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookReceiver", "alert_settings"]


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 (free port) that keeps every POSTed JSON body and answers
    ``status`` (500 plays a broken chat service)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"json://127.0.0.1:{self.port}/hook"  # Apprise's generic JSON webhook
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alert_settings(smtp_port: int, monkeypatch: Any, **webhooks: WebhookReceiver) -> dict[str, str]:
    """Config overrides (``DRIFTLOOP__``-less keys, for ``cfg_factory``) that send every alert to
    ``oncall@example.com`` through the SMTP server on ``smtp_port`` and to each webhook receiver;
    the secrets go where they belong: an Airflow connection and environment variables."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_ALERTS",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "driftloop@example.com",
                    "timeout": 5,
                    "retry_limit": 0,
                },
            }
        ),
    )
    channels = {"mail": {"type": "email", "conn_id": "smtp_alerts", "to": ["oncall@example.com"]}}
    for name, receiver in webhooks.items():
        env = f"ALERTS_TEST_{name.upper()}_URL"
        monkeypatch.setenv(env, receiver.url)
        channels[name] = {"type": "webhook", "url_env": env}
    return {
        "ALERTS__ENABLED": "true",
        "ALERTS__CHANNELS": json.dumps(channels),
        "ALERTS__ROUTES": json.dumps([{"channels": sorted(channels)}]),
        "ALERTS__BASE_URL": "http://airflow.example:8080",
        "ALERTS__SEND_ATTEMPTS": "2",
    }
