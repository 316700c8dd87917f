"""Where an ICS feed may be read from: the safety rule for user-supplied locations.

A remote user names the feed, and the server reads it, so:

* URLs must be ``http``/``https`` (``webcal://`` is read as ``https://``) with a host.
  Where they may lead is the fetch's rule (``mcos.infra.egress``): the host of the URL
  and of every redirect is resolved, and internal addresses are refused in every
  environment unless ``MCOS_FETCH_ALLOWED_NETWORKS`` allows them (dev allows loopback).
* File paths (plain or ``file://``) are only read inside one configured directory
  (``MCOS_CALENDAR_ICS_DIR``, default ``data/calendars``). Relative paths are taken inside
  it; symlinks and ``..`` are resolved first, so nothing outside can be reached.
* Anything else (``ftp:``, ``data:``…) is refused.

The API checks this when a source is connected, and the fetch activity checks it again
before every read (the schedule's arguments could have been written by something else).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mcos.calendar.errors import CalendarSourceError

URL_SCHEMES = ("http", "https", "webcal")
MAX_LOCATION = 2048


def check_ics_location(location: str, ics_dir: Path) -> str:
    """The location to fetch: the URL as given, or the resolved absolute file path.

    Raises ``CalendarSourceError(kind="invalid")`` with a message safe to show the user.
    """
    location = location.strip()
    if not location or len(location) > MAX_LOCATION or "\x00" in location:
        raise CalendarSourceError("ICS location is empty or too long", kind="invalid")
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if scheme in URL_SCHEMES:
        if not parts.hostname:
            raise CalendarSourceError("ICS URL has no host", kind="invalid")
        try:
            parts.port  # noqa: B018 - raises for a port out of range or not a number
        except ValueError:
            raise CalendarSourceError("ICS URL has an invalid port", kind="invalid") from None
        return location
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CalendarSourceError("file:// URLs must name a local file", kind="invalid")
        return _inside(Path(unquote(parts.path)), ics_dir)
    if scheme and len(scheme) > 1:  # "C:\..." has a one-letter "scheme"
        raise CalendarSourceError(
            f"ICS location must be an http(s) URL or a file path, not {scheme}:", kind="invalid"
        )
    return _inside(Path(location), ics_dir)


def _inside(path: Path, ics_dir: Path) -> str:
    root = Path(os.path.realpath(ics_dir))
    target = Path(os.path.realpath(root / path))  # an absolute path replaces root
    if target != root and root not in target.parents:
        raise CalendarSourceError(
            f"ICS files are only read from the calendar directory ({ics_dir.name}/); "
            "put the file there or use an http(s) URL",
            kind="invalid",
        )
    if target == root:
        raise CalendarSourceError("ICS path names the calendar directory itself", kind="invalid")
    return str(target)
