"""Routing: which team a new conversation goes to, and with which priority; the rules team
leads edit for that, and the contact categories they route on (docs/architecture.md,
"Assignment engine"). The matching itself is pure: inbox/routing.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Subquery
from django.utils.translation import gettext as _

from channels.models import Channel
from inbox import routing
from inbox.models import Contact, Conversation, RoutingRule, Team
from inbox.services.assignment import staff_profile_or_denied, team_lead_or_denied
from inbox.services.common import BatchAuditEvent, ServiceError, audit

__all__ = [
    "Route",
    "Router",
    "contact_set_category",
    "conversation_route_audit_event",
    "router_load",
    "routing_rule_create",
    "routing_rule_delete",
    "routing_rule_update",
]


@dataclass(frozen=True)
class Route:
    """Where a new conversation goes: the matching rule's team and priority, or the
    default team with normal priority (`rule_id` None)."""

    team_id: int | None
    priority: int
    rule_id: int | None


@dataclass(frozen=True)
class Router:
    """The active rules, read once per ingest batch rather than once per conversation."""

    rules: list[routing.Rule[RoutingRule]]
    default_team_id: int | None

    def route(self, *, channel_id: int, first_text: str, contact_category: str) -> Route:
        facts = routing.NewConversationFacts(
            channel_id=channel_id, first_text=first_text, contact_category=contact_category
        )
        matched = routing.first_matching(self.rules, facts)
        if matched is None:
            return Route(self.default_team_id, Conversation.Priority.NORMAL, None)
        return Route(matched.team_id, matched.priority, matched.pk)


def router_load() -> Router:
    # The default team rides along with the rules: one query for both, as ingest reads them
    # for every poll that starts a conversation.
    default_team = Team.objects.filter(is_default=True).values("id")[:1]
    active_rules: list[RoutingRule] = list(
        RoutingRule.objects.filter(is_active=True)
        .annotate(default_team_id=Subquery(default_team))
        .order_by("position", "id")
    )
    rules: list[routing.Rule[RoutingRule]] = [
        routing.Rule(
            conditions=routing.RuleConditions(
                channel_id=rule.channel_id,
                keywords=routing.keywords_parse(rule.keywords),
                contact_category=rule.contact_category,
            ),
            outcome=rule,
        )
        for rule in active_rules
    ]
    default_team_id = (
        active_rules[0].default_team_id  # type: ignore[attr-defined]
        if active_rules
        else default_team.values_list("id", flat=True).first()
    )
    return Router(rules=rules, default_team_id=default_team_id)


def conversation_route_audit_event(conversation: Conversation, route: Route) -> BatchAuditEvent:
    """The audit event of a new conversation's routing, for ingest to save with its batch
    (`audit_events_save`): ingest stored the route with the conversation row, in the same
    transaction. The conversation may not have its id yet."""
    return BatchAuditEvent(
        action="conversation.routed",
        channel_id=conversation.channel_id,
        conversation=conversation,
        data={
            "rule_id": route.rule_id,
            "routed_by": "rule" if route.rule_id is not None else "default",
            "team_id": route.team_id,
            "priority": route.priority,
        },
    )


def _rule_fields(
    *,
    name: str,
    team_id: int,
    position: int,
    is_active: bool,
    channel_id: int | None,
    keywords: str,
    contact_category: str,
    priority: int,
) -> dict[str, Any]:
    """Checked values for a rule's columns; ServiceError names what is wrong."""
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the rule a name."))
    if not Team.objects.filter(id=team_id).exists():
        raise ServiceError(_("This team does not exist."))
    if channel_id is not None and not Channel.objects.filter(id=channel_id).exists():
        raise ServiceError(_("This channel does not exist."))
    if contact_category and contact_category not in Contact.Category.values:
        raise ServiceError(_("Unknown contact category."))
    if priority not in Conversation.Priority.values:
        raise ServiceError(_("Unknown priority."))
    if position < 0:
        raise ServiceError(_("The position cannot be negative."))
    # Stored as typed, one keyword per line, so the team lead sees what they wrote.
    cleaned_keywords = "\n".join(
        line.strip() for line in keywords.replace(",", "\n").splitlines() if line.strip()
    )
    if keywords.strip() and not routing.keywords_parse(cleaned_keywords):
        raise ServiceError(_("The keywords contain no words."))
    return {
        "name": name[:100],
        "team_id": team_id,
        "position": position,
        "is_active": is_active,
        "channel_id": channel_id,
        "keywords": cleaned_keywords,
        "contact_category": contact_category,
        "priority": priority,
    }


@transaction.atomic
def routing_rule_create(
    *,
    actor: User,
    name: str,
    team_id: int,
    position: int = 100,
    is_active: bool = True,
    channel_id: int | None = None,
    keywords: str = "",
    contact_category: str = "",
    priority: int = Conversation.Priority.NORMAL,
) -> RoutingRule:
    team_lead_or_denied(actor)
    fields = _rule_fields(
        name=name,
        team_id=team_id,
        position=position,
        is_active=is_active,
        channel_id=channel_id,
        keywords=keywords,
        contact_category=contact_category,
        priority=priority,
    )
    rule = RoutingRule.objects.create(**fields)
    audit("routing_rule.created", actor=actor, routing_rule_id=rule.pk, **fields)
    return rule


@transaction.atomic
def routing_rule_update(
    *,
    actor: User,
    routing_rule_id: int,
    name: str,
    team_id: int,
    position: int,
    is_active: bool,
    channel_id: int | None = None,
    keywords: str = "",
    contact_category: str = "",
    priority: int = Conversation.Priority.NORMAL,
) -> RoutingRule:
    team_lead_or_denied(actor)
    rule = RoutingRule.objects.select_for_update().filter(id=routing_rule_id).first()
    if rule is None:
        raise ServiceError(_("This routing rule does not exist."))
    fields = _rule_fields(
        name=name,
        team_id=team_id,
        position=position,
        is_active=is_active,
        channel_id=channel_id,
        keywords=keywords,
        contact_category=contact_category,
        priority=priority,
    )
    changed = [column for column, value in fields.items() if getattr(rule, column) != value]
    if not changed:
        return rule
    previous = {column: getattr(rule, column) for column in changed}
    for column in changed:
        setattr(rule, column, fields[column])
    rule.save(update_fields=[*changed, "updated_at"])
    audit(
        "routing_rule.updated",
        actor=actor,
        routing_rule_id=rule.pk,
        previous=previous,
        **{column: fields[column] for column in changed},
    )
    return rule


@transaction.atomic
def routing_rule_delete(*, actor: User, routing_rule_id: int) -> None:
    team_lead_or_denied(actor)
    rule = RoutingRule.objects.select_for_update().filter(id=routing_rule_id).first()
    if rule is None:
        return  # deleted already: a double click deletes once
    audit("routing_rule.deleted", actor=actor, routing_rule_id=rule.pk, name=rule.name)
    rule.delete()


@transaction.atomic
def contact_set_category(*, actor: User, contact_id: int, category: str) -> Contact:
    """Flag a contact as press, council member or VIP (or back to citizen). Routing rules
    use it for the contact's next conversations; the current ones keep their team (a
    transfer moves them)."""
    staff_profile_or_denied(actor)
    if category not in Contact.Category.values:
        raise ServiceError(_("Unknown contact category."))
    contact = Contact.objects.select_for_update().filter(id=contact_id).first()
    if contact is None:
        raise ServiceError(_("This contact does not exist."))
    if contact.category == category:
        return contact
    previous = contact.category
    contact.category = category
    contact.save(update_fields=["category", "updated_at"])
    audit(
        "contact.category_changed",
        actor=actor,
        channel_id=contact.channel_id,
        contact_id=contact.pk,
        previous=previous,
        category=category,
    )
    return contact
