"""HTTP sessions whose settings from the environment are read once, when they are made.

requests reads the proxy variables, ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` and ``~/.netrc`` again on
every call, and finding the proxy settings iterates ``os.environ``. That iteration raises ``KeyError`` when
another thread deletes a variable in between: the live world's oracle thread died of it while pytest set and
deleted ``PYTEST_CURRENT_TEST`` around every test. A daemon's connections are configured when it starts, like
the rest of its configuration; later changes to the environment are not seen, and cannot break a call.
"""

from __future__ import annotations

import requests
from requests.utils import get_netrc_auth


def pinned_session(url: str) -> requests.Session:
    """A session for calls to ``url`` with what requests would take from the environment for it now: its
    proxy (or none, when ``NO_PROXY`` names the host), a CA bundle named by ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE``, and ``~/.netrc`` credentials for the host."""
    session = requests.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.auth = get_netrc_auth(url)
    session.trust_env = False
    return session
