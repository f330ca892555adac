"""Referral use cases: create, read, list, and every lifecycle transition. Each runs in one unit of
work: state, events and the access record commit together, or not at all."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from careroute_platform.access import Decision
from careroute_platform.auth import Principal
from careroute_platform.http import etag
from careroute_platform.idempotency import claim, remember
from careroute_platform.problems import Problem
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..adapters import repository as repo
from ..adapters.orm import referrals, unmet_needs
from ..domain.consent import coverage
from ..domain.directory import availability
from ..domain.eligibility import CaseProfile, Eligibility, check, parse_age_band
from ..domain.places import is_canton_code
from ..domain.referral import (
    Actor,
    CounterReferral,
    IllegalTransition,
    InvalidAnswer,
    NotPermitted,
    Referral,
    ReferralError,
    Side,
)
from ..domain.vocabulary import (
    LegalBasis,
    OrganisationKind,
    OutcomeCode,
    OverrideKind,
    Priority,
    ReferralStatus,
    ServiceType,
)
from ..metrics import CREATED, TRANSITIONS
from .context import Context
from .directory import available_in_canton
from .events import referral_event
from .views import referral_view

RESOURCE = "referral"


@dataclass(frozen=True)
class NewReferral:
    case_id: str
    service_id: str
    priority: Priority
    categories: list[str]
    services_requested: list[str]
    reason: str | None = None
    override_justification: str | None = None
    override_legal_basis: LegalBasis | None = None
    override_requested: bool = False


def actor_for(principal: Principal, side: Side) -> Actor:
    return Actor(side=side, subject=principal.subject, organisation=principal.organisation,
                 client=principal.client_id if principal.is_service_account else None)


def _detail(es: str, en: str) -> dict:
    return {"es": es, "en": en}


# -- creation -----------------------------------------------------------------------------------
def create_referral(ctx: Context, *, principal: Principal, new: NewReferral, payload: dict,
                    idempotency_key: str | None, traceparent: str | None) -> tuple[int, dict]:
    runtime = ctx.runtime
    now = ctx.clock.now()
    with runtime.uow(traceparent) as uow:
        s = uow.session
        replay = claim(s, runtime.idempotency_table, subject=principal.subject, key=idempotency_key, payload=payload)
        if replay is not None:
            return replay
        # Lock order, shared with the consent consumer: case row, then consents. A withdrawal being
        # applied right now either finishes first (and we see it) or waits for us (and revokes).
        case = repo.get_case(s, new.case_id, lock="share")
        decision = policy.can_act_for_case(principal, case)
        if not decision:
            raise runtime.deny(principal, "referral.create", "case", new.case_id, decision.reason, status=404,
                               traceparent=traceparent)
        if case.status == "closed":
            raise Problem(409, "case-closed", detail=_detail(
                "El caso está cerrado: reábralo antes de referir.", "The case is closed: reopen it before referring."))
        service = repo.service_with_organisation(s, new.service_id, lock=True)
        if service is None:
            raise Problem(422, "validation", detail=_detail("El servicio no existe en el directorio.",
                                                            "The service is not in the directory."),
                          errors=[{"field": "body.service_id", "code": "unknown_service"}])
        avail = availability(service_status=service.status, accepts_referrals=service.accepts_referrals,
                             organisation_status=service.organisation_status)
        if avail.refusable:
            raise Problem(409, "service-not-accepting", detail=_detail(
                "Este servicio no recibe referencias por Care Route; coordine por teléfono.",
                "This service does not take referrals through Care Route; coordinate by phone."),
                reasons=list(avail.refusable))
        problems: list[OverrideKind] = list(avail.overridable)
        eligibility = check(Eligibility.of(min_age=service.min_age, max_age=service.max_age, sexes=service.sexes,
                                           nationalities=service.nationalities,
                                           mobility_statuses=service.mobility_statuses),
                            CaseProfile(case.age_band, case.sex, case.nationality, case.mobility_status))
        if not eligibility.allowed:
            problems.append(OverrideKind.ELIGIBILITY)
        grants = repo.consent_grants(s, new.case_id, lock=True)
        cover = coverage(grants, organisation=service.group_path, service_type=service.service_type,
                         categories=set(new.categories), at=now)
        if not cover.complete:
            problems.append(OverrideKind.CONSENT)

        override_kinds: list[str] = []
        if problems and not new.override_requested:
            raise _refusal(problems, missing=sorted(cover.missing), unmet=list(eligibility.unmet))
        if new.override_requested:
            if not problems:
                raise Problem(422, "validation", detail=_detail(
                    "No hay nada que exceptuar: quite la excepción.", "There is nothing to override: remove it."),
                    errors=[{"field": "body.override", "code": "not_needed"}])
            allowed = policy.can_override(principal)
            if not allowed:
                problem = runtime.deny(principal, "referral.override", "case", new.case_id, allowed.reason,
                                       status=403, traceparent=traceparent)
                problem.detail = _detail("Solo una supervisora puede autorizar una excepción.",
                                         "Only a supervisor can authorise an override.")
                raise problem
            if OverrideKind.CONSENT in problems:
                _check_legal_basis(new, case, service)
            override_kinds = [k.value for k in problems]

        existing = s.execute(select(referrals.c.id).where(
            referrals.c.case_id == new.case_id, referrals.c.service_id == new.service_id,
            referrals.c.status.in_([ReferralStatus.PENDING.value, ReferralStatus.ACCEPTED.value]))).first()
        if existing:
            raise Problem(409, "duplicate-referral", detail=_detail(
                "Ya hay una referencia abierta de este caso a este servicio.",
                "This case already has an open referral to this service."), referral_id=existing.id)

        window = repo.clinical_window(s, new.case_id)
        referring_caseworker = principal.subject if principal.has_role("caseworker") else (case.caseworker or principal.subject)
        try:
            referral = Referral.create(
                case_id=new.case_id, referring_office=case.office, referring_caseworker=referring_caseworker,
                created_by=principal.subject, receiving_organisation=service.group_path,
                organisation_id=service.organisation_id, service_id=service.id,
                service_type=ServiceType(service.service_type), priority=new.priority, categories=new.categories,
                services_requested=new.services_requested, reason=new.reason, now=now,
                response_due_at=ctx.clock_policy.response_due(new.priority, now),
                expires_at=ctx.clock_policy.expires_at(new.priority, now),
                override_kinds=override_kinds,
                override_legal_basis=new.override_legal_basis.value if (override_kinds and new.override_legal_basis
                                                                        and OverrideKind.CONSENT.value in override_kinds) else None,
                override_justification=new.override_justification, override_by=principal.subject if override_kinds else None,
                clinical_window=window.event_data() if window else None,
            )
        except InvalidAnswer as exc:
            raise Problem(422, "validation", detail=exc.detail) from None
        try:
            with s.begin_nested():
                repo.add_referral(s, referral, now)
        except IntegrityError:
            raise Problem(409, "duplicate-referral", detail=_detail(
                "Ya hay una referencia abierta de este caso a este servicio.",
                "This case already has an open referral to this service.")) from None
        repo.add_history(s, referral, "created", actor_for(principal, Side.REFERRING), now)
        _record_unmet_needs(s, case, referral, now)
        for event in referral.pull_events():
            uow.publish(referral_event(referral, event, now))
        purpose = "referral"
        if override_kinds:
            # The justification itself is free text: it stays in the referral, the audit gets codes.
            purpose = "supervisor-override:" + ",".join(override_kinds)
            if referral.override_legal_basis:
                purpose += ";legal-basis:" + referral.override_legal_basis
        uow.publish(runtime.access(principal, "referral.create", RESOURCE, referral.id,
                                   Decision(True, decision.reason), purpose=purpose, key=referral.case_id))
        names = repo.service_names(s, {referral.service_id}).get(referral.service_id)
        body = referral_view(referral, side=Side.REFERRING, now=now, names=names, window=window,
                             intake_base_url=ctx.settings.intake_base_url)
        warnings = []
        if window and window.view(now)["pep_open"] and referral.service_type == ServiceType.HEALTH_CMR \
                and referral.priority != Priority.EMERGENCY:
            warnings.append("clinical_window_open_consider_emergency")
        body["warnings"] = warnings
        remember(s, runtime.idempotency_table, subject=principal.subject, key=idempotency_key, status=201, body=body)
        uow.commit()
    CREATED.labels(referral.priority.value, referral.service_type.value, str(bool(override_kinds)).lower()).inc()
    return 201, body


def _refusal(problems: list[OverrideKind], *, missing: list[str], unmet: list[str]) -> Problem:
    codes = [p.value for p in problems]
    first = problems[0]
    if OverrideKind.CONSENT in problems:
        return Problem(409, "consent-required", detail=_detail(
            "La sobreviviente no consintió compartir estas categorías con esta organización o tipo de servicio.",
            "The survivor did not consent to share these categories with this organisation or service type."),
            missing_categories=missing, problems=codes, overridable=False)
    if first == OverrideKind.SERVICE_SUSPENDED:
        return Problem(409, "service-suspended", detail=_detail(
            "El servicio está suspendido. Elija otro o pida a una supervisora una excepción justificada.",
            "The service is suspended. Choose another or ask a supervisor for a justified override."),
            problems=codes, overridable=True)
    if first == OverrideKind.SERVICE_AT_CAPACITY:
        return Problem(409, "service-at-capacity", detail=_detail(
            "El servicio no tiene cupo. Elija otro o pida a una supervisora una excepción justificada.",
            "The service is at capacity. Choose another or ask a supervisor for a justified override."),
            problems=codes, overridable=True)
    return Problem(422, "eligibility-not-met", detail=_detail(
        "El caso no cumple los criterios de elegibilidad del servicio.",
        "The case does not meet the service's eligibility criteria."), unmet_criteria=unmet, problems=codes,
        overridable=True)


def _check_legal_basis(new: NewReferral, case, service) -> None:
    """Sharing without consent only where the law allows it, and only to the state."""
    basis = new.override_legal_basis
    band = parse_age_band(case.age_band)
    ok = False
    if basis == LegalBasis.CHILD_PROTECTION:
        ok = band is not None and band[1] < 18 and service.organisation_kind == OrganisationKind.GOVERNMENT.value
    elif basis == LegalBasis.IMMINENT_RISK:
        ok = case.risk_level == "high" and new.priority == Priority.EMERGENCY
    if not ok:
        raise Problem(409, "override-not-allowed", detail=_detail(
            "Sin consentimiento solo se puede referir con base legal: protección de un niño, niña o adolescente "
            "(a una institución del Estado) o riesgo inminente (riesgo alto, prioridad emergencia).",
            "Without consent a referral needs a legal basis: child protection (to a state institution) or imminent "
            "risk (high risk, emergency priority)."))


def _record_unmet_needs(session, case, referral: Referral, now: datetime) -> None:
    if not is_canton_code(case.canton):
        return
    for service_type in referral.services_requested:
        if not available_in_canton(session, service_type, case.canton):
            session.execute(pg_insert(unmet_needs).values(
                case_id=case.case_id, service_type=service_type, province=case.province or "",
                canton=case.canton or "", source="referral", recorded_at=now).on_conflict_do_nothing())


# -- reading ------------------------------------------------------------------------------------
def read_referral(ctx: Context, *, principal: Principal, referral_id: str, traceparent: str | None) -> dict:
    runtime = ctx.runtime
    now = ctx.clock.now()
    with runtime.uow(traceparent) as uow:
        s = uow.session
        referral = repo.get_referral(s, referral_id)
        if referral is None:
            raise runtime.deny(principal, "referral.read", RESOURCE, referral_id, "not-found", status=404,
                               traceparent=traceparent)
        decision = policy.can_read_referral(principal, referral)
        if not decision:
            raise runtime.deny(principal, "referral.read", RESOURCE, referral_id, decision.reason, status=404,
                               traceparent=traceparent)
        side = policy.side_of(principal, referral)
        body = referral_view(referral, side=side, now=now,
                             names=repo.service_names(s, {referral.service_id}).get(referral.service_id),
                             window=repo.clinical_window(s, referral.case_id),
                             intake_base_url=ctx.settings.intake_base_url, timeline=repo.history(s, referral.id),
                             may_act=policy.may_act(principal, side))
        uow.publish(runtime.access(principal, "referral.read", RESOURCE, referral.id, decision,
                                   purpose=f"{side.value}-side", key=referral.case_id))
        uow.commit()
    return body


def list_referrals(ctx: Context, *, principal: Principal, side: Side, filters: dict, limit: int, offset: int,
                   traceparent: str | None) -> dict:
    """The referring office's referrals, or the receiving organisation's inbox. Every listed
    referral is an access: one access event per item, keyed by its case."""
    runtime = ctx.runtime
    now = ctx.clock.now()
    groups = list(principal.groups)
    column = referrals.c.referring_office if side == Side.REFERRING else referrals.c.receiving_organisation
    conditions = [column.in_(groups)]
    if filters.get("case_id"):
        conditions.append(referrals.c.case_id == filters["case_id"])
    if filters.get("status"):
        conditions.append(referrals.c.status.in_(filters["status"]))
    if filters.get("priority"):
        conditions.append(referrals.c.priority == filters["priority"])
    if filters.get("service_type"):
        conditions.append(referrals.c.service_type == filters["service_type"])
    if filters.get("overdue") is not None:
        overdue = (referrals.c.status == ReferralStatus.PENDING.value) & (referrals.c.response_due_at <= now)
        conditions.append(overdue if filters["overdue"] else ~overdue)
    action = "referral.list" if side == Side.REFERRING else "referral.inbox"
    with runtime.uow(traceparent) as uow:
        s = uow.session
        total = s.execute(select(func.count()).select_from(referrals).where(*conditions)).scalar_one()
        # Most urgent first: the nearest deadline of what is still open, then the newest.
        rows = s.execute(select(referrals).where(*conditions)
                         .order_by((referrals.c.status.in_(["pending", "accepted"])).desc(),
                                   referrals.c.response_due_at.asc(), referrals.c.created_at.desc(), referrals.c.id)
                         .limit(limit).offset(offset)).all()
        items = [repo.referral_from_row(r) for r in rows]
        names = repo.service_names(s, {r.service_id for r in items})
        out = []
        for referral in items:
            out.append(referral_view(referral, side=side, now=now, names=names.get(referral.service_id),
                                     window=repo.clinical_window(s, referral.case_id),
                                     intake_base_url=ctx.settings.intake_base_url,
                                     may_act=policy.may_act(principal, side)))
            uow.publish(runtime.access(principal, action, RESOURCE, referral.id,
                                       Decision(True, f"{side.value}-side"), key=referral.case_id))
        if not items:
            # an empty look is an access too (who looked, when)
            uow.publish(runtime.access(principal, action, "referral_list", principal.organisation,
                                       Decision(True, f"{side.value}-side")))
        uow.commit()
    return {"items": out, "total": total, "limit": limit, "offset": offset}


# -- transitions --------------------------------------------------------------------------------
def transition(ctx: Context, *, principal: Principal, referral_id: str, action: str, if_match: str | None,
               payload: dict, traceparent: str | None) -> dict:
    runtime = ctx.runtime
    if if_match is None:
        raise Problem(428, detail=_detail("Envíe If-Match con el ETag leído.", "Send If-Match with the ETag you read."))
    now = ctx.clock.now()
    with runtime.uow(traceparent) as uow:
        s = uow.session
        referral = repo.get_referral(s, referral_id, lock=True)   # racing answers queue here
        if referral is None:
            raise runtime.deny(principal, f"referral.{action}", RESOURCE, referral_id, "not-found", status=404,
                               traceparent=traceparent)
        act = policy.can_act_on_referral(principal, referral, action)
        if not act.decision:
            problem = runtime.deny(principal, f"referral.{action}", RESOURCE, referral_id, act.decision.reason,
                                   status=act.status, traceparent=traceparent)
            if act.status == 403:
                required = Side.RECEIVING if action in policy.ANSWERS else Side.REFERRING
                problem.detail = NotPermitted(action, required).detail
            raise problem
        actor = actor_for(principal, act.side)
        expected = referral.version
        try:
            _apply(referral, action, actor, now, payload)
        except IllegalTransition as exc:
            TRANSITIONS.labels(action, "illegal").inc()
            # The state machine answers before the version check: a lost race is a clear 409.
            raise Problem(409, "illegal-transition", detail=exc.detail, current_status=exc.status.value,
                          current_etag=etag(expected)) from None
        except InvalidAnswer as exc:
            raise Problem(422, "validation", detail=exc.detail) from None
        except ReferralError as exc:
            raise Problem(409, exc.code, detail=exc.detail) from None
        _require_version(if_match, expected)
        try:
            repo.save_referral(s, referral, expected_version=expected, now=now)
        except repo.StaleReferral:
            raise Problem(409, "conflict", detail=_detail("Otra persona respondió primero; recargue.",
                                                          "Someone else answered first; reload.")) from None
        events = referral.pull_events()
        reason_code = events[0].data.get("reason_code") if events else None
        repo.add_history(s, referral, action, actor, now, reason_code)
        for event in events:
            uow.publish(referral_event(referral, event, now))
        uow.publish(runtime.access(principal, f"referral.{action}", RESOURCE, referral.id, act.decision,
                                   key=referral.case_id))
        body = referral_view(referral, side=act.side, now=now,
                             names=repo.service_names(s, {referral.service_id}).get(referral.service_id),
                             window=repo.clinical_window(s, referral.case_id),
                             intake_base_url=ctx.settings.intake_base_url)
        uow.commit()
    TRANSITIONS.labels(action, "done").inc()
    return body


def _require_version(if_match: str, version: int) -> None:
    if if_match.strip() not in (etag(version), f'"{version}"', "*"):
        raise Problem(412, detail=_detail("Otra persona cambió esta referencia; recargue.",
                                          "Someone else changed this referral; reload."), current_etag=etag(version))


def _apply(referral: Referral, action: str, actor: Actor, now: datetime, payload: dict) -> None:
    if action == "accept":
        referral.accept(by=actor, at=now)
    elif action == "decline":
        referral.decline(by=actor, at=now, reason_code=payload["reason_code"], note=payload.get("note"))
    elif action == "complete":
        counter = CounterReferral(bool(payload["service_delivered"]), OutcomeCode(payload["outcome_code"]),
                                  bool(payload.get("follow_up_advised", False)),
                                  tuple(ServiceType(t) for t in payload.get("follow_up_service_types") or ()),
                                  payload.get("note"))
        referral.complete(by=actor, at=now, counter_referral=counter)
    elif action == "close":
        referral.close(by=actor, at=now, reason_code=payload["reason_code"], note=payload.get("note"))
    elif action == "revoke":
        referral.revoke(by=actor, at=now, reason_code=payload["reason_code"], note=payload.get("note"))
    else:  # pragma: no cover - routes only offer the actions above
        raise ValueError(action)
