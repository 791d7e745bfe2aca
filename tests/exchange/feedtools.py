"""Test-only tampering with a node's own feed: what a dishonest operator could do."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from kavach.banks.models import BankEntry
from kavach.banks.service import get_bank
from kavach.exchange.models import FeedLeaf, FeedNode, FeedState
from tests.exchange.nodes import add_records


def rewrite_history(session: Session, bank_name: str, values: list[bytes]) -> None:
    """Throw away a bank's feed and entries and list ``values`` instead: the next publish
    signs a new history that does not extend the one peers verified."""
    bank = get_bank(session, bank_name)
    for table in (FeedLeaf, FeedNode):
        session.execute(delete(table).where(table.bank_id == bank.id))
    session.execute(delete(FeedState).where(FeedState.bank_id == bank.id))
    # Deleting the entries also drops what the feed said of them (FK cascade).
    session.execute(delete(BankEntry).where(BankEntry.bank_id == bank.id))
    add_records(session, bank, values)
