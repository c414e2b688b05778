"""The whole schema: importing this puts every table on ``Base.metadata`` and
every mapped class in the registry, so relationships between features'
models resolve. Migrations, the app and the tests import it; a feature's own
code imports only the models it uses.
"""

from __future__ import annotations

from collab import models
from collab.accounts import models as accounts
from collab.consultations import models as consultations
from collab.documents import models as documents
from collab.forums import models as forums
from collab.legal import models as legal
from collab.mail import models as mail
from collab.meetings import models as meetings
from collab.notifications import models as notifications
from collab.search import models as search

__all__ = ["FEATURE_MODELS", "metadata"]

FEATURE_MODELS = (
    accounts,
    consultations,
    documents,
    forums,
    legal,
    mail,
    meetings,
    notifications,
    search,
)
metadata = models.Base.metadata
