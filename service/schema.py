"""Every ORM model of the service, imported once so ``metadata`` knows all tables."""

from __future__ import annotations

from service.alerts import models as _alerts  # noqa: F401
from service.audit import models as _audit  # noqa: F401
from service.db import Base
from service.jobs import models as _jobs  # noqa: F401
from service.keys import models as _keys  # noqa: F401
from service.rules import models as _rules  # noqa: F401
from service.suppressions import models as _suppressions  # noqa: F401
from service.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
