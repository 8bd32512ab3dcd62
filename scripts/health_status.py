"""Asks a daemon's loopback health endpoint how it is, prints the snapshot, exits non-zero when unhealthy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import click


def show_health(url: str, *, as_json: bool, daemon: str) -> None:
    """Print ``url``'s ``/healthz`` (a table, or the raw JSON); no answer at all is a one-line error."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=5) as response:
            state = json.load(response)
    except urllib.error.HTTPError as exc:  # 503: unhealthy, but the snapshot says why
        state = json.load(exc)
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"no {daemon} answers at {url}: {getattr(exc, 'reason', exc)}") from exc
    if as_json:
        click.echo(json.dumps(state, indent=2))
    else:
        width = max((len(key) for key in state), default=0)
        for key, value in state.items():
            click.echo(f"{key:>{width}}: {value}")
    if not state.get("healthy"):
        raise SystemExit(1)
