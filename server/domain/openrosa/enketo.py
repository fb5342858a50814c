"""Enketo's web form for a form of this OpenRosa server, for the phones that have no ODK Collect.

Enketo Express opens a form by an id of its own, which it gives for an OpenRosa server's address
and a form id through its API (``POST /api/v2/survey``: ``server_url`` and ``form_id``, the API
key as the user name of Basic authentication; https://apidocs.enketo.org/v2). The server address
is the one ODK Collect is given, with the phone's token in its path, so the web form lists,
downloads and submits as that phone (``/formList``, ``/submission`` after it), and stops working
when the phone is revoked. Enketo keeps the pair: asking again gives the same address.
"""

from __future__ import annotations

import re

import requests

TIMEOUT = 5  # seconds Enketo has to answer; the page is shown without the link after that
_URL = re.compile(r"https?://[^\s\"'<>]{1,500}")


class EnketoError(Exception):
    """Enketo gave no web form address: unreachable, refused the key, or answered nonsense."""


def survey_url(enketo_url: str, api_key: str, server_url: str, form_id: str) -> str:
    """The address of the form's Enketo web form for this OpenRosa server address."""
    try:
        answer = requests.post(
            f"{enketo_url.rstrip('/')}/api/v2/survey",
            data={"server_url": server_url, "form_id": form_id},
            auth=(api_key, ""),
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise EnketoError(type(error).__name__) from error
    if answer.status_code not in (200, 201):
        raise EnketoError(f"HTTP {answer.status_code}")
    try:
        url = answer.json().get("url")
    except (ValueError, AttributeError) as error:
        raise EnketoError("not JSON") from error
    if not isinstance(url, str) or not _URL.fullmatch(url):
        raise EnketoError("no url")
    return url
