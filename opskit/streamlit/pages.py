"""Pages of a multipage app, and where the app's base path ends in a URL.

A URL like ``https://host/chat/sales`` is ambiguous: the page ``sales`` of an app
under ``/chat``, or the main page of an app under ``/chat/sales``. Streamlit's
own frontend settles it by trying both (``getPossibleBaseUris``: the whole path,
then the path without its last segment) against ``_stcore/health``, and sends
the rest as ``ClientState.page_name``; the server answers with the app's pages
(``ForwardMsg.navigation``) and ``page_not_found`` for a name it does not know,
running the default page instead. ``find_base`` does the same probing, at most
two GETs, within the caller's deadline.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from opskit.clock import Deadline
from opskit.errors import Cancelled

HEALTH_PATH = "_stcore/health"
PROBE_TIMEOUT = 5.0  # seconds for one health GET


class PageMissing(Exception):
    """The app has no such page (the page said no: a broken link or a renamed page)."""


@dataclass(frozen=True)
class AppPage:
    """A page as the app's navigation lists it."""

    name: str  # its title in the nav
    url_path: str  # "" for the default page
    script_hash: str
    is_default: bool = False

    @property
    def shown(self) -> str:
        return f"{self.name!r} (/{self.url_path})"


def listing(pages: Sequence[AppPage]) -> str:
    if not pages:
        return "the app has a single page"
    return "its pages: " + ", ".join(p.shown for p in pages)


def pick(pages: Sequence[AppPage], wanted: str) -> AppPage:
    """The page named ``wanted`` (its title) or at URL path ``wanted``."""
    path = wanted.strip().strip("/")
    for same in (
        lambda p: p.name == wanted.strip() or p.url_path == path,
        lambda p: (
            p.name.casefold() == wanted.strip().casefold()
            or p.url_path.casefold() == path.casefold()
        ),
        lambda p: path == "" and p.is_default,
    ):
        found = [p for p in pages if same(p)]
        if found:
            return found[0]
    raise PageMissing(f"no page {wanted!r} in the app; {listing(pages)}")


def candidates(app_url: str) -> list[tuple[str, str]]:
    """(app URL without the page, page path) in the order the browser tries them."""
    parts = urlsplit(app_url.strip())
    path = parts.path.rstrip("/")
    if not path or path.endswith("/_stcore/stream"):
        return [(app_url, "")]
    head, _, last = path.rpartition("/")
    return [
        (urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), ""),
        (urlunsplit((parts.scheme, parts.netloc, head, parts.query, "")), last),
    ]


def find_base(
    app_url: str, deadline: Deadline, cancel: threading.Event, headers: dict[str, str]
) -> tuple[str, str]:
    """The app's URL and the page path in ``app_url``, as the browser finds them.

    With no path there is nothing to try. Otherwise the first candidate whose
    health check answers 200 wins; when none does (a server that is down, an
    auth proxy) the whole path is kept, and the handshake says what is wrong.
    """
    tried = candidates(app_url)
    if len(tried) == 1:
        return tried[0]
    opener = urllib.request.build_opener()
    for base, page in tried:
        if cancel.is_set():
            raise Cancelled("interrupted")
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            break
        timeout = PROBE_TIMEOUT if remaining is None else min(PROBE_TIMEOUT, remaining)
        parts = urlsplit(base)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme)
        health = urlunsplit((scheme, parts.netloc, f"{parts.path}/{HEALTH_PATH}", "", ""))
        request = urllib.request.Request(health, headers=headers)
        try:
            with opener.open(request, timeout=timeout) as response:
                if response.status == 200:
                    return base, page
        except urllib.error.HTTPError:
            continue
        except (OSError, ValueError):
            break  # refused, unreachable: the handshake reports it
    return tried[0]
