"""What a served page loads from elsewhere: the check that it works behind a firewall."""

from __future__ import annotations

import re

# src/href of <script>/<link>/<img>, and url(...) in inline styles.
_LOADS = re.compile(
    r"<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']|url\(\s*[\"']?([^\"')]+)",
    re.IGNORECASE,
)


def loaded_urls(html: str) -> list[str]:
    """The URLs a browser fetches to render ``html`` (scripts, stylesheets, images, CSS urls)."""
    return [a or b for a, b in _LOADS.findall(html)]


def external(urls: list[str]) -> list[str]:
    """Those of ``urls`` on another host (http, https or protocol-relative)."""
    return [u for u in urls if re.match(r"^(?:https?:)?//", u.strip(), re.IGNORECASE)]
