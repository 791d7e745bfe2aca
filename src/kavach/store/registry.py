"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Alembic and the test fixtures use this; add one import per new model module.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import kavach.audit
import kavach.auth.models
import kavach.banks.models
import kavach.cases.models
import kavach.evidence.models
import kavach.exchange.models
import kavach.jobs.models
import kavach.reports.models
import kavach.store.models
import kavach.store.submissions
import kavach.takedown.models
from kavach.store.base import Base

__all__ = ["metadata"]

# Referenced so linters see the imports as used: they register tables as a side effect.
_MODEL_MODULES = (
    kavach.store.models,
    kavach.banks.models,
    kavach.auth.models,
    kavach.jobs.models,
    kavach.store.submissions,
    kavach.exchange.models,
    kavach.audit,
    kavach.cases.models,
    kavach.evidence.models,
    kavach.reports.models,
    kavach.takedown.models,
)

metadata: MetaData = Base.metadata
