"""Every state change of the inbox. Views, tasks, the API and commands call these; nothing
else writes.

Each service is one transaction that also writes its audit event, and sends side effects
(Celery tasks) only after commit, so a rolled-back change never triggers work. The modules:

- `ingest`: what the connectors read, stored exactly once, routed to a team;
- `assignment`: presence, automatic assignment, take / transfer / unassign;
- `lifecycle`: status, snooze, care cycles, priority, tags, notes, merge;
- `replies`: the outbox from the composer to the platform;
- `approval`: four-eyes review of replies before they are queued;
- `staff`, `canned_responses`, `teams`: the team's set-up;
- `metrics`: the dashboard's facts and rollups, rebuilt from what changed;
- `schedules`: opening hours and service norms; `topics`: topic rules;
- `privacy`: retention and anonymisation; `data_subjects`: access and erasure requests;
- `archive`: archive exports.

`from inbox import services; services.reply_create(...)` keeps working: the public names
are re-exported here.
"""

from inbox.services.api_tokens import *  # noqa: F403
from inbox.services.approval import *  # noqa: F403
from inbox.services.archive import *  # noqa: F403
from inbox.services.assignment import *  # noqa: F403
from inbox.services.canned_responses import *  # noqa: F403
from inbox.services.common import ServiceError, audit, metrics_mark_changed  # noqa: F401
from inbox.services.contacts import *  # noqa: F403
from inbox.services.data_subjects import *  # noqa: F403
from inbox.services.ingest import *  # noqa: F403
from inbox.services.lifecycle import *  # noqa: F403
from inbox.services.metrics import *  # noqa: F403
from inbox.services.preferences import *  # noqa: F403
from inbox.services.privacy import *  # noqa: F403
from inbox.services.reading import *  # noqa: F403
from inbox.services.replies import *  # noqa: F403
from inbox.services.routing import *  # noqa: F403
from inbox.services.schedules import *  # noqa: F403
from inbox.services.staff import *  # noqa: F403
from inbox.services.teams import *  # noqa: F403
from inbox.services.topics import *  # noqa: F403
