"""``kavach exchange``: this node's identity, peers, sync, vouching, referrals, NCMEC polling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kavach.cli.db import database_session
from kavach.config import get_settings
from kavach.errors import InputError

exchange_app = typer.Typer(
    help="Alliance exchange: node identity, peers, signed feeds, vouching, referrals.",
    no_args_is_help=True,
)
peer_app = typer.Typer(help="Member nodes this node pulls feeds from.", no_args_is_help=True)
referral_app = typer.Typer(help="Cases referred to or by peers.", no_args_is_help=True)
ncmec_app = typer.Typer(help="NCMEC hash sharing API v2.", no_args_is_help=True)
exchange_app.add_typer(peer_app, name="peer")
exchange_app.add_typer(referral_app, name="referral")
exchange_app.add_typer(ncmec_app, name="ncmec")


def register(app: typer.Typer) -> None:
    """Add ``kavach exchange`` to the main app."""
    app.add_typer(exchange_app, name="exchange")


@contextmanager
def _factory() -> Iterator[sessionmaker[Session]]:
    from kavach.cli.serve import check_schema
    from kavach.store.db import make_engine, make_session_factory

    settings = get_settings()
    check_schema(settings)
    engine = make_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _client(timeout: float) -> Any:
    import httpx

    return httpx.Client(timeout=timeout, follow_redirects=False)


def _identity() -> Any:
    from kavach.exchange.identity import load_identity

    return load_identity(get_settings().data_dir)


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, sort_keys=True))


@exchange_app.command("init")
def init_command(
    organisation: Annotated[str, typer.Option(help="This node's organisation name.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code, e.g. IN.")],
) -> None:
    """Create this node's Ed25519 key pair (in the data directory, mode 0600)."""
    from kavach.exchange.feeds import local_organisation
    from kavach.exchange.identity import init_identity

    identity = init_identity(get_settings().data_dir, organisation, country)
    with database_session() as session:
        org = local_organisation(session, identity)
        if org.country is None:
            org.country = identity.country
    typer.echo(f"node id {identity.node_id}")
    typer.echo("give this id to your peers out of band; they check it with --node-id")


@exchange_app.command("node")
def node_command() -> None:
    """Show what this node publishes at /exchange/v1/node."""
    _print(_identity().public())


@peer_app.command("add")
def peer_add(
    name: Annotated[str, typer.Argument(help="A short local name (lowercase, digits, - _).")],
    url: Annotated[str, typer.Argument(help="The peer's base URL, e.g. https://kavach.example")],
    node_id: Annotated[
        str | None, typer.Option("--node-id", help="The id its operator gave you (checked).")
    ] = None,
    trust: Annotated[str, typer.Option(help="full (vouches count) or listen.")] = "full",
    bank: Annotated[
        list[str] | None, typer.Option(help="Only pull this remote feed (repeat).")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option(help="Only accept entries with this scheme:value.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1)] = 10.0,
) -> None:
    """Register a peer, pinning the public key it serves now."""
    from kavach.exchange.jobs import schedule_sync
    from kavach.exchange.peers import add_peer

    with _client(timeout) as client, database_session() as session:
        peer = add_peer(
            session,
            client,
            name=name,
            url=url,
            expect_node_id=node_id,
            trust=trust,
            banks=bank,
            labels=label,
            actor="cli",
        )
        schedule_sync(session)
        typer.echo(f"added peer {peer.name} ({peer.node_id})")


@peer_app.command("list")
def peer_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every peer with its sync state."""
    from kavach.exchange.models import Peer
    from kavach.exchange.peers import peer_status

    with database_session() as session:
        rows = [
            asdict(peer_status(session, p))
            for p in session.scalars(select(Peer).order_by(Peer.name))
        ]
    if as_json:
        _print(rows)
        return
    for row in rows:
        state = "HALTED" if row["halted"] else ("active" if row["active"] else "inactive")
        typer.echo(
            f"{row['name']:<16} {row['country'] or '--'} {row['trust']:<6} {state:<8} "
            f"alarms={len(row['alarms'])} {row['url']}"
        )


@peer_app.command("remove")
def peer_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Forget a peer (its mirrored banks stay)."""
    from kavach.exchange.peers import remove_peer

    with database_session() as session:
        remove_peer(session, name, actor="cli")
    typer.echo(f"removed peer {name}")


@peer_app.command("status")
def peer_status_command(name: Annotated[str, typer.Argument()]) -> None:
    """One peer's feeds (cursor and head) and open alarms; exit 1 when it has alarms."""
    from kavach.exchange.peers import get_peer, peer_status

    with database_session() as session:
        status = asdict(peer_status(session, get_peer(session, name)))
    _print(status)
    if status["alarms"] or status["halted"]:
        raise typer.Exit(1)


@peer_app.command("clear")
def peer_clear(name: Annotated[str, typer.Argument()]) -> None:
    """Acknowledge a peer's alarms and let it sync again (after you found out why)."""
    from kavach.exchange.peers import clear_alarms

    with database_session() as session:
        count = clear_alarms(session, name, actor="cli")
    typer.echo(f"cleared {count} alarm(s) of {name}")


@peer_app.command("sync")
def peer_sync(
    name: Annotated[str | None, typer.Argument(help="One peer (default: all).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="Entries per page.")] = 1000,
    timeout: Annotated[float, typer.Option(min=0.1)] = 30.0,
) -> None:
    """Pull peers' feeds now; exit 1 when anything was refused or failed."""
    from kavach.exchange.sync import sync_all, sync_peer

    identity = _identity()
    with _client(timeout) as client, _factory() as factory:
        if name is None:
            reports = sync_all(factory, client, identity, limit=limit)
        else:
            reports = [sync_peer(factory, client, identity, name, limit=limit)]
    failed = False
    for report in reports:
        applied = sum(report.applied.values())
        typer.echo(f"{report.peer}: {applied} applied, {report.skipped} skipped")
        for line in report.alarms:
            typer.echo(f"  ALARM {line}", err=True)
        for line in report.errors:
            typer.echo(f"  error: {line}", err=True)
        failed = failed or not report.ok
    if failed:
        raise typer.Exit(1)


@exchange_app.command("vouch")
def vouch_command(
    bank: Annotated[str, typer.Argument(help="The bank holding the entry (e.g. a peer mirror).")],
    signal_type: Annotated[str, typer.Argument(help="md5, sha1, sha256, pdq, photodna.")],
    value: Annotated[str, typer.Argument(help="The hash.")],
    into: Annotated[
        str | None, typer.Option(help="One of our shared banks: tell peers we vouch.")
    ] = None,
) -> None:
    """Vouch for an entry as this node's organisation (after your own review)."""
    from kavach.exchange.feeds import local_organisation
    from kavach.exchange.vouching import vouch_locally
    from kavach.signals.types import SignalType, parse_hash

    identity = _identity()
    st = SignalType.parse(signal_type)
    with database_session() as session:
        new = vouch_locally(
            session,
            local_organisation(session, identity),
            bank=bank,
            signal_type=st,
            value=parse_hash(st, value),
            into=into,
        )
    typer.echo("vouched" if new else "already vouched")


@exchange_app.command("pending")
def pending_command(
    bank: Annotated[str | None, typer.Option(help="Only this bank.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
) -> None:
    """Entries below their bank's vouching rule, waiting for review (JSON)."""
    from kavach.exchange.vouching import pending

    with database_session() as session:
        _print([asdict(p) for p in pending(session, bank=bank, limit=limit)])


@exchange_app.command("rule")
def rule_command(
    bank: Annotated[str, typer.Argument()],
    members: Annotated[int, typer.Option(min=1, max=100, help="Distinct members.")],
    countries: Annotated[int, typer.Option(min=1, max=100, help="Distinct countries.")],
) -> None:
    """Set a bank's vouching rule and re-check its entries against it."""
    from kavach.banks.models import BankEntry
    from kavach.banks.service import get_bank
    from kavach.exchange.vouching import refresh_acting

    if countries > members:
        raise InputError("countries cannot exceed members")
    with database_session() as session:
        found = get_bank(session, bank)
        found.vouch_members, found.vouch_countries = members, countries
        session.flush()
        keys = session.execute(
            select(BankEntry.signal_type, BankEntry.value).where(
                BankEntry.bank_id == found.id, BankEntry.retracted_at.is_(None)
            )
        )
        changed = refresh_acting(session, ((st, bytes(v)) for st, v in keys))
    typer.echo(f"{bank}: rule {members} members / {countries} countries; {changed} entries changed")


@exchange_app.command("refer")
def refer_command(
    peer: Annotated[str, typer.Argument(help="The peer to refer to.")],
    url: Annotated[str | None, typer.Option(help="A URL hosted in the peer's country.")] = None,
    account: Annotated[
        list[str] | None, typer.Option(help="An account abroad (repeat), e.g. a group member.")
    ] = None,
    note: Annotated[str, typer.Option(help="What the peer should know.")] = "",
    case: Annotated[int | None, typer.Option(help="Our case id, kept with the referral.")] = None,
) -> None:
    """Refer a URL or accounts to a peer; the worker delivers it and records the answers."""
    from kavach.exchange.referrals import refer

    if (url is None) == (not account):
        raise InputError("give either --url or --account")
    subject: dict[str, Any] = {"note": note}
    if url is not None:
        kind, subject["url"] = "url", url
    else:
        kind, subject["accounts"] = "accounts", list(account or [])
    with database_session() as session:
        referral = refer(
            session, _identity(), peer, kind=kind, subject=subject, case_id=case, actor="cli"
        )
        typer.echo(referral.uid)


@referral_app.command("list")
def referral_list() -> None:
    """Referrals sent and received, newest first (JSON)."""
    from kavach.exchange.models import Peer, Referral

    with database_session() as session:
        rows = session.execute(
            select(Referral, Peer.name)
            .join(Peer, Peer.id == Referral.peer_id)
            .order_by(Referral.id.desc())
        ).all()
        _print(
            [
                {
                    "id": r.uid,
                    "direction": r.direction,
                    "peer": name,
                    "kind": r.kind,
                    "status": r.status,
                    "case_id": r.case_id,
                    "subject": r.subject,
                }
                for r, name in rows
            ]
        )


@referral_app.command("status")
def referral_status(
    uid: Annotated[str, typer.Argument(help="The referral id.")],
    status: Annotated[str, typer.Argument(help="actioned, removed or rejected.")],
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Report progress on a referral we received (sent back to the referrer by the worker)."""
    from kavach.exchange.referrals import set_status

    with database_session() as session:
        set_status(session, _identity(), uid, status, note=note, actor="cli")
    typer.echo(f"{uid}: {status}")


@ncmec_app.command("poll")
def ncmec_poll(
    bank: Annotated[str, typer.Argument(help="The bank NCMEC's entries go into.")],
    url: Annotated[str, typer.Option(help="API base URL (the part before /v2/entries).")],
    start: Annotated[
        str, typer.Option(help="First time to read when the bank has no checkpoint (ISO 8601).")
    ],
    username_env: Annotated[
        str, typer.Option(help="Environment variable holding the API user name.")
    ] = "KAVACH_NCMEC_USERNAME",
    password_env: Annotated[
        str, typer.Option(help="Environment variable holding the API password.")
    ] = "KAVACH_NCMEC_PASSWORD",  # noqa: S107 (the name of a variable, not a secret)
    window_hours: Annotated[float, typer.Option(min=0.01, help="Hours per time range.")] = 24.0,
    timeout: Annotated[float, typer.Option(min=0.1)] = 60.0,
) -> None:
    """Read NCMEC entries and deletions into a bank, checkpointing after each whole range."""
    import datetime as dt
    import os

    import httpx

    from kavach.exchange.ncmec import NcmecConnector

    try:
        first = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("--start must be an ISO 8601 time, e.g. 2024-05-01T00:00:00Z") from None
    if first.tzinfo is None:
        first = first.replace(tzinfo=dt.UTC)
    user, password = os.environ.get(username_env, ""), os.environ.get(password_env, "")
    auth = httpx.BasicAuth(user, password) if user else None
    with (
        httpx.Client(timeout=timeout, auth=auth, follow_redirects=False) as client,
        _factory() as factory,
    ):
        connector = NcmecConnector(client, url, window=dt.timedelta(hours=window_hours))
        report = connector.poll(factory, bank, start=first)
    typer.echo(
        f"{report.ranges} range(s), {report.pages} page(s): {report.added} added, "
        f"{report.updated} updated, {report.retracted} retracted, "
        f"{report.record_errors} bad records; checkpoint {report.checkpoint}"
    )
    for line in report.errors:
        typer.echo(f"error: {line}", err=True)
    if report.errors:
        raise typer.Exit(1)
