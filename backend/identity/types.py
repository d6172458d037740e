"""GraphQL types of the identity domain; each error type declares the domain error it
translates (backend.graphql_errors)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from backend.graphql_errors import Error, translates
from backend.identity import errors, notices, psc, services
from backend.identity.codes import MAX_RESENDS, Challenge
from backend.identity.ins import OID_INS_NIA, OID_INS_NIR, OID_INS_TEST_NIR
from backend.identity.models import Account
from backend.identity.sessions import SessionRecord


@strawberry.enum(description="Where one-time codes are sent.")
class CodeChannel(Enum):
    EMAIL = "email"
    SMS = "sms"


@strawberry.enum
class Role(Enum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"


@translates(errors.InvalidCredentials)
@strawberry.type
class InvalidCredentials(Error):
    pass


@translates(errors.RateLimited, psc.PscRateLimited)
@strawberry.type
class RateLimited(Error):
    retry_after_seconds: int

    @classmethod
    def from_error(cls, exc: errors.RateLimited | psc.PscRateLimited) -> RateLimited:
        return cls(message=exc.message, retry_after_seconds=exc.retry_after)


@translates(errors.TemporarilyLocked)
@strawberry.type
class TemporarilyLocked(Error):
    retry_after_seconds: int

    @classmethod
    def from_error(cls, exc: errors.TemporarilyLocked) -> TemporarilyLocked:
        return cls(message=exc.message, retry_after_seconds=exc.retry_after)


@translates(errors.ChannelUnavailable)
@strawberry.type
class ChannelUnavailable(Error):
    pass


@translates(errors.CodeDeliveryFailed)
@strawberry.type
class CodeDeliveryFailed(Error):
    pass


@translates(errors.InvalidCode)
@strawberry.type
class InvalidCode(Error):
    attempts_left: int


@translates(errors.CodeExpired)
@strawberry.type
class CodeExpired(Error):
    pass


@translates(errors.TooManyAttempts)
@strawberry.type
class TooManyAttempts(Error):
    pass


@translates(errors.WeakPassword)
@strawberry.type
class WeakPassword(Error):
    pass


@translates(errors.InvalidInput)
@strawberry.type
class InvalidInput(Error):
    field: str


@translates(errors.SessionNotFound)
@strawberry.type
class SessionNotFound(Error):
    pass


@translates(psc.PscError)
@strawberry.type(description="The Pro Santé Connect login ticket is unknown, expired or "
                             "already used: sign in with Pro Santé Connect again.")
class LoginTicketInvalid(Error):
    pass


@translates(errors.AccountIsClosed)
@strawberry.type(description="Identifier, password and code were right, but I closed my space: "
                             "no session opens. Within the archive period I may reopen it "
                             "(reopenAccount) or ask for its deletion (requestAccountDeletion) "
                             "with reopenTicket (one use, valid as long as a code); nothing "
                             "else.")
class AccountClosed(Error):
    reopen_ticket: str
    closed_at: datetime
    purge_after: datetime = strawberry.field(
        description="When the space is purged (the end of the archive period, or the "
                    "deletion I asked for).")
    deletion_requested: bool


@strawberry.type(description="A code was sent; answer with verifyLoginCode (or the matching "
                             "confirmation mutation) before expiresAt.")
class LoginChallenge:
    challenge_id: str
    channel: CodeChannel
    masked_destination: str
    expires_at: datetime
    resends_left: int

    @classmethod
    def from_challenge(cls, challenge: Challenge) -> LoginChallenge:
        from backend.identity.services import masked

        return cls(
            challenge_id=challenge.id, channel=CodeChannel(challenge.channel),
            masked_destination=masked(challenge.channel, challenge.destination),
            expires_at=challenge.expires, resends_left=MAX_RESENDS - challenge.resends,
        )


@strawberry.type(description="A password reset was asked. If an active account with a "
                             "verified contact has this identifier, a code was sent to that "
                             "contact; the answer is the same otherwise (then no code will "
                             "ever match). Answer with confirmPasswordReset before expiresAt.")
class PasswordResetRequested:
    challenge_id: str
    expires_at: datetime

    @classmethod
    def from_challenge(cls, challenge: Challenge) -> PasswordResetRequested:
        return cls(challenge_id=challenge.id, expires_at=challenge.expires)


@strawberry.type(description="The password was reset; every session of the account was "
                             "closed (sign in again with the new password).")
class PasswordReset:
    sessions_closed: int


@strawberry.type(description="A signed-in session. Send the token as `Authorization: Bearer`.")
class Session:
    token: str
    expires_at: datetime = strawberry.field(
        description="Absolute expiry; idle sessions end sooner."
    )
    idle_timeout_seconds: int


@strawberry.type(description="One of my signed-in sessions.")
class ActiveSession:
    id: strawberry.ID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    address: str
    user_agent: str
    current: bool

    @classmethod
    def from_record(cls, record: SessionRecord, current_id: str) -> ActiveSession:
        return cls(
            id=strawberry.ID(record.id), created_at=datetime.fromisoformat(record.created_at),
            last_seen_at=datetime.fromisoformat(record.last_seen_at),
            expires_at=record.absolute_expiry, address=record.address,
            user_agent=record.user_agent, current=record.id == current_id,
        )


_MATRICULE_TYPES = {OID_INS_NIR: "NIR", OID_INS_NIA: "NIA", OID_INS_TEST_NIR: "NIR_TEST"}


@strawberry.type(description="The national health identity (INS) of a patient, as the INS "
                             "referential holds it (traits in capitals, as registered).")
class PatientIdentity:
    ins_matricule: str
    oid: str
    matricule_type: str = strawberry.field(
        description='What the matricule is, from its OID: "NIR", "NIA" (not yet registered '
                    'with a NIR), "NIR_TEST" (or "UNKNOWN" for an OID Carnet does not know).')
    birth_name: str
    first_names: str = strawberry.field(description="Birth first names, space-separated.")
    first_birth_first_name: str = strawberry.field(
        description="The first of the birth first names (premier prénom de naissance).")
    birth_date: date
    sex: str
    birthplace_code: str
    identity_status: str = strawberry.field(
        description="PROV (provisional), RECUP (retrieved from the INSi service), VALI "
                    "(validated against an ID document) or QUAL (both: qualified).")
    mssante_address: str
    greeting_name: str = strawberry.field(
        description='The name to greet me by ("Bonjour Jean"): my used first name once the '
                    "identity holds one, else the first of my birth first names.")


@strawberry.type
class ProfessionalProfile:
    rpps: str
    national_id: str = strawberry.field(description='"8" + RPPS')
    profession: str
    specialty: str | None
    practice_name: str | None
    practice_address: str | None


@strawberry.type(description="Which notices Carnet sends me, and where. They never contain "
                             "health data (no title, no message, no sender).")
class NotificationPreferences:
    channel: CodeChannel = strawberry.field(
        description="Where notices go (a channel whose contact was verified).")
    new_document: bool = strawberry.field(
        description="Tell me when someone adds a document to my record.")
    new_message: bool = strawberry.field(description="Tell me when I receive a message.")


@strawberry.type(description="Who I am.")
class Me:
    id: strawberry.ID
    identifier: str
    role: Role
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    preferred_channel: CodeChannel
    language: str = strawberry.field(description='"fr" or "en": the language of what Carnet '
                                                 "sends me.")
    notification_preferences: NotificationPreferences
    patient: PatientIdentity | None
    professional: ProfessionalProfile | None

    @classmethod
    def from_account(cls, account: Account) -> Me:
        person = account.person
        pro = account.professional
        return cls(
            id=strawberry.ID(str(account.id)), identifier=account.identifier,
            role=Role(account.role.value), email=account.email,
            email_verified=bool(account.email and account.email_verified),
            phone=account.phone, phone_verified=bool(account.phone and account.phone_verified),
            preferred_channel=CodeChannel(account.preferred_channel.value),
            language=account.language,
            notification_preferences=NotificationPreferences(
                channel=CodeChannel(notices.notification_channel(account).value),
                new_document=account.notify_new_document,
                new_message=account.notify_new_message,
            ),
            patient=PatientIdentity(
                ins_matricule=person.matricule, oid=person.oid,
                matricule_type=_MATRICULE_TYPES.get(person.oid, "UNKNOWN"),
                birth_name=person.birth_name, first_names=person.first_names,
                first_birth_first_name=(person.first_names.split() or [""])[0],
                birth_date=person.birth_date,
                sex=person.sex.value, birthplace_code=person.birthplace_code,
                identity_status=person.identity_status.value,
                mssante_address=f"{person.matricule}@patient.mssante.fr",
                greeting_name=services.greeting_name(person.first_names),
            ) if person else None,
            professional=ProfessionalProfile(
                rpps=pro.rpps, national_id=f"8{pro.rpps}", profession=pro.profession,
                specialty=pro.specialty, practice_name=pro.practice_name,
                practice_address=pro.practice_address,
            ) if pro else None,
        )


@strawberry.type
class LoggedOut:
    sessions_closed: int


@strawberry.type
class SessionRevoked:
    id: strawberry.ID


@strawberry.type
class PasswordChanged:
    other_sessions_closed: bool = True


LoginResult = Annotated[
    LoginChallenge | InvalidCredentials | RateLimited | TemporarilyLocked | ChannelUnavailable
    | CodeDeliveryFailed,
    strawberry.union("LoginResult"),
]
VerifyLoginCodeResult = Annotated[
    Session | InvalidCode | CodeExpired | TooManyAttempts | RateLimited | TemporarilyLocked
    | AccountClosed,
    strawberry.union("VerifyLoginCodeResult"),
]
ResendLoginCodeResult = Annotated[
    LoginChallenge | CodeExpired | TooManyAttempts | RateLimited | CodeDeliveryFailed,
    strawberry.union("ResendLoginCodeResult"),
]
RevokeSessionResult = Annotated[
    SessionRevoked | SessionNotFound, strawberry.union("RevokeSessionResult")
]
StepUpResult = Annotated[
    LoginChallenge | InvalidCredentials | RateLimited | TemporarilyLocked | ChannelUnavailable
    | CodeDeliveryFailed | InvalidInput,
    strawberry.union("StepUpResult"),
]
ConfirmPasswordChangeResult = Annotated[
    PasswordChanged | InvalidCode | CodeExpired | TooManyAttempts | WeakPassword | RateLimited
    | TemporarilyLocked,
    strawberry.union("ConfirmPasswordChangeResult"),
]
ExchangeLoginTicketResult = Annotated[
    Session | LoginTicketInvalid | RateLimited,
    strawberry.union("ExchangeLoginTicketResult"),
]
ConfirmContactChangeResult = Annotated[
    Me | InvalidCode | CodeExpired | TooManyAttempts | RateLimited | TemporarilyLocked,
    strawberry.union("ConfirmContactChangeResult"),
]
RequestPasswordResetResult = Annotated[
    PasswordResetRequested | RateLimited,
    strawberry.union("RequestPasswordResetResult"),
]
ConfirmPasswordResetResult = Annotated[
    PasswordReset | InvalidCode | CodeExpired | TooManyAttempts | WeakPassword | RateLimited
    | TemporarilyLocked,
    strawberry.union("ConfirmPasswordResetResult"),
]
UpdatePreferencesResult = Annotated[
    Me | ChannelUnavailable | InvalidInput,
    strawberry.union("UpdatePreferencesResult"),
]
