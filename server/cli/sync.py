"""``gocua sync …``: replication between Gõ Cửa servers, a commune's up to its province's.

On the province: ``gocua sync token COMMUNE`` gives the commune's server a token (shown once).
On the commune: ``gocua sync push --upstream URL --token T`` sends what is new since the
province's checkpoint. This module does not import ``server.cli.main`` (which imports it).
"""

from __future__ import annotations

import re
from typing import Any

import click

from schemas.messages import text
from server.cli.common import data_dir, open_db
from server.domain.db import write_transaction
from server.domain.devices import issue_peer_token, list_peers, revoke_peer
from server.domain.records.push import pairs_digest
from server.domain.replication import (
    Report,
    UpstreamError,
    commune_pairs,
    local_checkpoint,
    newest_outbox_seq,
    replicate,
    server_id,
)
from sync.client import HttpError, RetriesExhausted, RetryPolicy, SyncClient

_data_dir = data_dir
_db = open_db


def say(key: str, **params: Any) -> None:
    """A catalogue message, Vietnamese then English."""
    click.echo(text(key, "vi", **params))
    click.echo(text(key, "en", **params))


def _fail(key: str, **params: Any) -> click.ClickException:
    return click.ClickException(f"{text(key, 'vi', **params)}\n{text(key, 'en', **params)}")


def _upstream_failed(url: str, error: HttpError | RetriesExhausted) -> click.ClickException:
    """The upstream's refusal in its own words, each language on its line (a revoked token
    says what the commune admin should do)."""
    last = error.last if isinstance(error, RetriesExhausted) else error
    said = last.body.get("message") if isinstance(last, HttpError) else None
    lines = []
    for lang in ("vi", "en"):
        detail = str(error)
        if isinstance(last, HttpError) and isinstance(said, dict) and said.get(lang):
            detail = f"HTTP {last.status} {last.code}: {said[lang]}"
        lines.append(text("sync.upstream_failed", lang, url=url, error=detail))
    return click.ClickException("\n".join(lines))


@click.group()
def sync() -> None:
    """Replication between servers: a commune server sends its records up to its province."""


@sync.command("token")
@click.argument("commune_id")
@click.option("--label", default="", help="Who holds the token, e.g. the commune's name.")
def token(commune_id: str, label: str) -> None:
    """(Province) A token for COMMUNE's server to push its records here; shown once."""
    if not re.fullmatch(r"\d{5}", commune_id):
        raise _fail("sync.bad_commune", commune=commune_id)
    db = _db()
    with write_transaction(db):
        peer_id, secret = issue_peer_token(db, commune_id, label)
    say("sync.token_issued", commune=commune_id, peer=peer_id)
    click.echo(secret)


@sync.command("peers")
def peers() -> None:
    """(Province) The commune servers that may push here, with their checkpoints."""
    db = _db()
    for peer in list_peers(db):
        state = (
            f"revoked {peer['revoked_at']}"
            if peer["revoked_at"]
            else f"last seen {peer['last_seen_at'] or '-'}"
        )
        click.echo(
            f"{peer['id']}  {peer['commune_id']}  {peer['label'] or '-'}"
            f"  checkpoint {peer['checkpoint']}  {state}"
        )


@sync.command("revoke")
@click.argument("peer_id")
def revoke(peer_id: str) -> None:
    """(Province) Refuse a commune server's token from now on."""
    db = _db()
    with write_transaction(db):
        done = revoke_peer(db, peer_id)
    if not done:
        raise _fail("sync.no_peer", peer=peer_id)
    say("sync.revoked", peer=peer_id)


def _client(upstream: str, token_value: str) -> SyncClient:
    # A commune office's line drops for minutes: wait up to about ten minutes in all.
    return SyncClient(upstream, token_value, retry=RetryPolicy(attempts=10, base=1.0, cap=120.0))


_UPSTREAM = click.option(
    "--upstream",
    required=True,
    envvar="GOCUA_UPSTREAM_URL",
    help="The province server's address (or GOCUA_UPSTREAM_URL).",
)
_TOKEN = click.option(
    "--token",
    "token_value",
    required=True,
    envvar="GOCUA_UPSTREAM_TOKEN",
    help="The token the province gave (or GOCUA_UPSTREAM_TOKEN).",
)


@sync.command("push")
@_UPSTREAM
@_TOKEN
def push(upstream: str, token_value: str) -> None:
    """(Commune) Send this server's records, villages and households to the province:
    only what is new since the province's checkpoint."""
    db = _db()
    url = upstream.rstrip("/")
    client = _client(url, token_value)
    try:
        report = replicate(db, client, url, _data_dir())
    except UpstreamError as error:
        raise _fail(f"sync.{error.code}", url=url, **error.params) from None
    except (HttpError, RetriesExhausted) as error:
        raise _upstream_failed(url, error) from None
    finally:
        client.close()
    _print_report(report, url)
    if report.rejects:
        raise SystemExit(1)


def _print_report(report: Report, url: str) -> None:
    if not report.anything_sent():
        say("sync.nothing_new", url=url, checkpoint=report.checkpoint)
    else:
        for lang in ("vi", "en"):
            click.echo(
                text(
                    "sync.pushed",
                    lang,
                    url=url,
                    batches=report.batches,
                    what="; ".join(_sent(report, lang)),
                    checkpoint=report.checkpoint,
                )
            )
    for reject in report.rejects:
        fields = ", ".join(sorted(reject.get("errors") or {}))
        say("sync.rejected", id=reject["id"], rev=reject["rev"], fields=fields)
    if report.resolutions_waiting:
        say("sync.resolutions_waiting", count=report.resolutions_waiting)


def _sent(report: Report, lang: str) -> list[str]:
    """What a run sent, kind by kind, leaving out the kinds it sent none of."""
    parts = []
    if report.items:
        parts.append(text("sync.sent_revisions", lang, count=report.items, **report.counts))
    if report.blobs:
        parts.append(text("sync.sent_photos", lang, count=report.blobs))
    parts += [
        text(f"sync.sent_{kind}", lang, count=count) for kind, count in report.sent.items() if count
    ]
    return parts


@sync.command("status")
@_UPSTREAM
@_TOKEN
def status(upstream: str, token_value: str) -> None:
    """(Commune) Compare what the province holds with this server: checkpoints and digests."""
    db = _db()
    url = upstream.rstrip("/")
    client = _client(url, token_value)
    try:
        remote = client.status(source=server_id(db))
    except (HttpError, RetriesExhausted) as error:
        raise _upstream_failed(url, error) from None
    finally:
        client.close()
    commune_id = remote.get("commune_id", "")
    pairs = commune_pairs(db, commune_id)
    newest = newest_outbox_seq(db)
    say(
        "sync.status",
        url=url,
        commune=commune_id,
        remote=remote.get("checkpoint", 0),
        local=local_checkpoint(db, url) or 0,
        newest=newest,
        revisions=len(pairs),
        remote_revisions=remote.get("revisions", 0),
    )
    same = pairs_digest(pairs) == remote.get("digest")
    say("sync.in_step" if same else "sync.not_in_step")
