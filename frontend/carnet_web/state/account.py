"""State of "Mon compte" (/mon-compte): who I am, my contacts, my password, my preferences.

- My identity: the national health identity (INS) as Carnet holds it (patients), or my
  professional identity (RPPS), read-only, with who corrects it.
- My contacts: a new e-mail address or phone number takes my current password, then the code
  sent to the NEW address (requestContactChange / confirmContactChange).
- My password: the current one, then the code sent to my usual contact with the new one
  (requestPasswordChange / confirmPasswordChange); my other sessions are closed.
- Notices (channel, new document, new message) and the language of what Carnet sends me
  (updatePreferences). Saving a new language switches this tab to it as well.

Passwords and codes are read from the submitted forms and never kept in state; challenge ids
stay in backend-only vars. What an action said (success or error) does not outlive the page:
`load` (on_load) forgets it, except the one line that reports saving a new language, shown once
after the reload that switches the tab.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import LANGUAGES, N_, LanguageState, gettext, normalise
from carnet_web.routes import ACCOUNT_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import day_text
from carnet_web.state.login import (
    CHANNELS,
    code_error_message,
    common_message,
    fallback_message,
    normalise_code,
)
from carnet_web.state.session import PROFESSIONAL_ROLE, SessionState, api_errors

MIN_PASSWORD: Final = 12  # the API's policy (backend/identity/passwords.py)
MAX_PASSWORD: Final = 128

_ME_FIELDS: Final = """
      identifier role email emailVerified phone phoneVerified language
      notificationPreferences { channel newDocument newMessage }
"""

MY_ACCOUNT: Final = api.operation(
    f"""
    query MyAccount {{
      me {{
        {_ME_FIELDS}
        patient {{
          insMatricule matriculeType birthName firstNames birthDate sex birthplaceCode
          identityStatus
        }}
        professional {{ rpps profession specialty practiceName practiceAddress }}
      }}
    }}
    """
)

_CHALLENGE: Final = "... on LoginChallenge { challengeId channel maskedDestination expiresAt }"

REQUEST_CONTACT_CHANGE: Final = api.operation(
    f"""
    mutation RequestContactChange($currentPassword: String!, $email: String, $phone: String) {{
      requestContactChange(currentPassword: $currentPassword, email: $email, phone: $phone) {{
        __typename
        {_CHALLENGE}
        ... on Error {{ message }}
        ... on InvalidInput {{ field }}
        ... on RateLimited {{ retryAfterSeconds }}
        ... on TemporarilyLocked {{ retryAfterSeconds }}
      }}
    }}
    """
)

CONFIRM_CONTACT_CHANGE: Final = api.operation(
    f"""
    mutation ConfirmContactChange($challengeId: String!, $code: String!) {{
      confirmContactChange(challengeId: $challengeId, code: $code) {{
        __typename
        ... on Me {{ {_ME_FIELDS} }}
        ... on Error {{ message }}
        ... on InvalidCode {{ attemptsLeft }}
        ... on RateLimited {{ retryAfterSeconds }}
        ... on TemporarilyLocked {{ retryAfterSeconds }}
      }}
    }}
    """
)

REQUEST_PASSWORD_CHANGE: Final = api.operation(
    f"""
    mutation RequestPasswordChange($currentPassword: String!) {{
      requestPasswordChange(currentPassword: $currentPassword) {{
        __typename
        {_CHALLENGE}
        ... on Error {{ message }}
        ... on RateLimited {{ retryAfterSeconds }}
        ... on TemporarilyLocked {{ retryAfterSeconds }}
      }}
    }}
    """
)

CONFIRM_PASSWORD_CHANGE: Final = api.operation(
    """
    mutation ConfirmPasswordChange($challengeId: String!, $code: String!, $newPassword: String!) {
      confirmPasswordChange(challengeId: $challengeId, code: $code, newPassword: $newPassword) {
        __typename
        ... on PasswordChanged { otherSessionsClosed }
        ... on Error { message }
        ... on InvalidCode { attemptsLeft }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

UPDATE_PREFERENCES: Final = api.operation(
    f"""
    mutation UpdatePreferences($language: String, $notificationChannel: CodeChannel,
                               $notifyNewDocument: Boolean, $notifyNewMessage: Boolean) {{
      updatePreferences(language: $language, notificationChannel: $notificationChannel,
                        notifyNewDocument: $notifyNewDocument,
                        notifyNewMessage: $notifyNewMessage) {{
        __typename
        ... on Me {{ {_ME_FIELDS} }}
        ... on Error {{ message }}
      }}
    }}
    """
)

# --- labels and messages (French msgids) ---------------------------------------------------

SEX_LABELS: Final = {"M": N_("Masculin"), "F": N_("Féminin"), "U": N_("Indéterminé")}
MATRICULE_LABELS: Final = {
    "NIR": N_("NIR (numéro de sécurité sociale)"),
    "NIA": N_("NIA (numéro d'identification d'attente)"),
    "NIR_TEST": N_("NIR de test"),
}
STATUS_LABELS: Final = {
    "PROV": N_("Identité provisoire"),
    "RECUP": N_("Identité récupérée"),
    "VALI": N_("Identité validée"),
    "QUAL": N_("Identité qualifiée"),
}
STATUS_HINTS: Final = {
    "PROV": N_("Vos traits d'identité n'ont encore été ni vérifiés sur une pièce d'identité ni "
               "confirmés par le téléservice INSi."),
    "RECUP": N_("Vos traits d'identité ont été obtenus auprès du téléservice INSi, mais pas "
                "encore vérifiés sur une pièce d'identité."),
    "VALI": N_("Vos traits d'identité ont été vérifiés sur une pièce d'identité, mais pas "
               "encore confirmés par le téléservice INSi."),
    "QUAL": N_("Vos traits d'identité ont été vérifiés sur une pièce d'identité et confirmés "
               "par le téléservice INSi : votre identité est qualifiée."),
}

NEW_CONTACT_MISSING: Final = {
    "EMAIL": N_("Saisissez votre nouvelle adresse e-mail."),
    "SMS": N_("Saisissez votre nouveau numéro de téléphone."),
}
INVALID_CONTACT: Final = {
    "email": N_("Cette adresse e-mail n'est pas valide. Exemple : nom@exemple.fr."),
    "phone": N_("Ce numéro de téléphone n'est pas valide. Exemple : 06 12 34 56 78."),
}
CURRENT_PASSWORD_MISSING: Final = N_("Saisissez votre mot de passe actuel.")
CURRENT_PASSWORD_WRONG: Final = N_("Mot de passe actuel incorrect.")
MALFORMED_CODE: Final = N_("Saisissez les 6 chiffres du code reçu.")
PASSWORD_TOO_SHORT: Final = N_("Le nouveau mot de passe doit comporter au moins {n} "
                               "caractères.")
PASSWORD_TOO_LONG: Final = N_("Le nouveau mot de passe doit comporter au plus {n} caractères.")
PASSWORDS_DIFFER: Final = N_("Les deux mots de passe ne sont pas identiques.")
WEAK_PASSWORD: Final = N_(
    "Ce mot de passe n'est pas accepté : choisissez au moins 12 caractères variés, qui ne "
    "contiennent pas votre identifiant."
)
EMAIL_CHANGED: Final = N_("Votre adresse e-mail est maintenant {value}.")
PHONE_CHANGED: Final = N_("Votre numéro de téléphone est maintenant {value}.")
PASSWORD_CHANGED: Final = N_(
    "Votre mot de passe a été changé. Vos autres sessions ont été fermées : sur vos autres "
    "appareils, reconnectez-vous avec le nouveau mot de passe."
)
PREFERENCES_SAVED: Final = N_("Vos préférences ont été enregistrées.")
CHANNEL_UNAVAILABLE: Final = {
    "EMAIL": N_("Pour recevoir les notifications par e-mail, ajoutez d'abord une adresse "
                "e-mail vérifiée."),
    "SMS": N_("Pour recevoir les notifications par SMS, ajoutez d'abord un numéro de "
              "téléphone vérifié."),
}


def new_password_error(password: str, confirmation: str, language: str = "fr") -> str:
    """'' if the new password may be sent; else what is wrong with it (the API checks the
    rest of its policy)."""
    if len(password) < MIN_PASSWORD:
        return gettext(language, PASSWORD_TOO_SHORT, n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return gettext(language, PASSWORD_TOO_LONG, n=MAX_PASSWORD)
    if password != confirmation:
        return gettext(language, PASSWORDS_DIFFER)
    return ""


def matricule_text(matricule: str) -> str:
    """A 15-character NIR or NIA as it is printed on a carte Vitale: '2 55 08 14 168 025 38'."""
    value = "".join(str(matricule or "").split())
    if len(value) != 15:
        return value
    groups = (1, 2, 2, 2, 3, 3, 2)
    parts, start = [], 0
    for size in groups:
        parts.append(value[start:start + size])
        start += size
    return " ".join(parts)


def step_up_error(result: Mapping[str, Any], *, kind: str = "", language: str = "fr") -> str:
    """The message for an error member of `StepUpResult` (contact or password change, first
    step). `kind`: the contact being changed ('EMAIL' or 'SMS'), if any."""
    typename = result.get("__typename")
    if typename == "InvalidCredentials":
        return gettext(language, CURRENT_PASSWORD_WRONG)
    if typename == "InvalidInput":
        field = str(result.get("field") or "")
        fallback = INVALID_CONTACT["phone" if kind == "SMS" else "email"]
        return gettext(language, INVALID_CONTACT.get(field, fallback))
    if typename == "ChannelUnavailable":
        return gettext(language, "Aucun moyen vérifié de vous envoyer un code n'est associé à "
                       "ce compte.")
    return common_message(result, language) or fallback_message(result, language)


def confirm_error(result: Mapping[str, Any], language: str = "fr") -> str:
    """The message for an error member of the second steps (a code, maybe a new password)."""
    if result.get("__typename") == "WeakPassword":
        return gettext(language, WEAK_PASSWORD)
    return code_error_message(result, language)


#: Ids the page gives to the controls focus goes back to.
CONTACT_BUTTONS: Final = {"EMAIL": "account-change-email", "SMS": "account-change-phone"}
PASSWORD_BUTTON: Final = "account-change-password"  # noqa: S105 (an element id)
#: The steps of a change: the form (new value, current password), then the code.
FORM: Final = "form"
CODE: Final = "code"


class AccountState(SessionState):
    loading: bool = True
    error: str = ""  # the page could not be read

    # Who I am.
    identifier: str = ""
    is_patient: bool = False
    is_professional_account: bool = False
    birth_name: str = ""
    first_names: str = ""
    birth_date: str = ""
    sex: str = ""
    birthplace_code: str = ""
    ins_matricule: str = ""
    matricule_type: str = ""
    identity_status: str = ""  # 'PROV', 'RECUP', 'VALI' or 'QUAL'
    identity_status_label: str = ""
    identity_status_hint: str = ""
    rpps: str = ""
    profession: str = ""
    specialty: str = ""
    practice_name: str = ""
    practice_address: str = ""

    # My contacts.
    email: str = ""
    email_verified: bool = False
    phone: str = ""
    phone_verified: bool = False

    # Changing a contact: '' (nothing under way), 'form' (new value + password), 'code'.
    contact_kind: str = ""  # 'EMAIL' or 'SMS'
    contact_step: str = ""
    contact_masked: str = ""
    contact_error: str = ""
    contact_info: str = ""
    contact_busy: bool = False
    contact_field_key: int = 0
    _contact_challenge: str = ""

    # Changing my password: '' , 'form' (current password), 'code' (code + new password).
    password_step: str = ""
    password_masked: str = ""
    step_up_channel: str = ""
    password_error: str = ""
    password_info: str = ""
    password_busy: bool = False
    password_field_key: int = 0
    _password_challenge: str = ""

    # Preferences, as in the form.
    pref_channel: str = "EMAIL"
    pref_new_document: bool = True
    pref_new_message: bool = True
    pref_language: str = "fr"
    pref_error: str = ""
    pref_info: str = ""
    pref_busy: bool = False
    _saved_language: str = ""  # the account's language as the API last said
    # Said once, after the reload that switches the tab to the language just saved.
    _flash: str = ""

    def _forget_actions(self) -> None:
        self.contact_kind = self.contact_step = self.contact_masked = ""
        self.contact_error = self.contact_info = ""
        self._contact_challenge = ""
        self.password_step = self.password_masked = self.step_up_channel = ""
        self.password_error = self.password_info = ""
        self._password_challenge = ""
        self.pref_error = self.pref_info = ""
        self.contact_busy = self.password_busy = self.pref_busy = False

    def _take_me(self, me: Mapping[str, Any]) -> None:
        """Contacts and preferences (every answer that is a `Me` has them)."""
        self.identifier = str(me.get("identifier") or "")
        self.email = str(me.get("email") or "")
        self.email_verified = bool(me.get("emailVerified"))
        self.phone = str(me.get("phone") or "")
        self.phone_verified = bool(me.get("phoneVerified"))
        prefs = me.get("notificationPreferences") or {}
        channel = str(prefs.get("channel") or "EMAIL")
        self.pref_channel = channel if channel in CHANNELS else "EMAIL"
        self.pref_new_document = bool(prefs.get("newDocument", True))
        self.pref_new_message = bool(prefs.get("newMessage", True))
        self._saved_language = normalise(str(me.get("language") or ""))
        self.pref_language = self._saved_language

    def _take_identity(self, me: Mapping[str, Any]) -> None:
        patient = me.get("patient") or {}
        pro = me.get("professional") or {}
        self.is_patient = bool(patient)
        self.is_professional_account = bool(pro) or me.get("role") == PROFESSIONAL_ROLE
        self.birth_name = str(patient.get("birthName") or "")
        self.first_names = str(patient.get("firstNames") or "")
        self.birth_date = day_text(str(patient.get("birthDate") or ""), self.lang)
        sex = SEX_LABELS.get(str(patient.get("sex") or ""))
        self.sex = self._t(sex) if sex else str(patient.get("sex") or "")
        self.birthplace_code = str(patient.get("birthplaceCode") or "")
        self.ins_matricule = matricule_text(str(patient.get("insMatricule") or ""))
        kind = MATRICULE_LABELS.get(str(patient.get("matriculeType") or ""))
        self.matricule_type = self._t(kind) if kind else ""
        status = str(patient.get("identityStatus") or "")
        self.identity_status = status
        label, hint = STATUS_LABELS.get(status), STATUS_HINTS.get(status)
        self.identity_status_label = self._t(label) if label else status
        self.identity_status_hint = self._t(hint) if hint else ""
        self.rpps = str(pro.get("rpps") or "")
        self.profession = str(pro.get("profession") or "")
        self.specialty = str(pro.get("specialty") or "")
        self.practice_name = str(pro.get("practiceName") or "")
        self.practice_address = str(pro.get("practiceAddress") or "")

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """on_load (and "Réessayer"): read my account; forget what earlier actions said."""
        self._forget_actions()
        flash, self._flash = self._flash, ""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        me = (await self._query(MY_ACCOUNT)).get("me") or {}
        self._take_me(me)
        self._take_identity(me)
        self.pref_info = flash

    # --- my contacts ---------------------------------------------------------------------

    @rx.event
    def start_contact_change(self, kind: str) -> None:
        """"Changer d'adresse e-mail" / "Changer de numéro": the form for the new one."""
        if kind not in CHANNELS:
            return
        self.contact_kind = kind
        self.contact_step = FORM
        self.contact_error = self.contact_info = self.contact_masked = ""
        self._contact_challenge = ""
        self.contact_field_key += 1

    @rx.event
    def cancel_contact_change(self) -> EventSpec:
        kind = self.contact_kind or "EMAIL"
        self.contact_step = self.contact_kind = self.contact_masked = self.contact_error = ""
        self._contact_challenge = ""
        return focus(CONTACT_BUTTONS[kind])

    @rx.event
    @api_errors(error="contact_error", busy="contact_busy")
    async def request_contact_change(self, form_data: dict[str, Any]
                                     ) -> AsyncIterator[EventSpec | None]:
        """The new address and my current password: a code goes to the NEW address."""
        kind = self.contact_kind
        if kind not in CHANNELS or self.contact_busy:
            return
        value = str(form_data.get("value") or "").strip()
        password = str(form_data.get("current_password") or "")
        if not value:
            self.contact_error = self._t(NEW_CONTACT_MISSING[kind])
            return
        if not password:
            self.contact_error = self._t(CURRENT_PASSWORD_MISSING)
            return
        self.contact_busy = True
        self.contact_error = self.contact_info = ""
        yield
        variables: dict[str, Any] = {"currentPassword": password,
                                     "email": value if kind == "EMAIL" else None,
                                     "phone": value if kind == "SMS" else None}
        result = (await self._query(REQUEST_CONTACT_CHANGE, variables))["requestContactChange"]
        if result.get("__typename") != "LoginChallenge":
            self.contact_error = step_up_error(result, kind=kind, language=self.lang)
            self.contact_field_key += 1  # empties the password
            return
        self._contact_challenge = str(result["challengeId"])
        self.contact_masked = str(result.get("maskedDestination") or "")
        self.contact_step = CODE

    @rx.event
    @api_errors(error="contact_error", busy="contact_busy")
    async def confirm_contact_change(self, form_data: dict[str, Any]
                                     ) -> AsyncIterator[EventSpec | None]:
        """The code received at the new address: it replaces the old one."""
        if not self._contact_challenge or self.contact_busy:
            return
        code = normalise_code(form_data.get("code"))
        if code is None:
            self.contact_error = self._t(MALFORMED_CODE)
            return
        self.contact_busy = True
        self.contact_error = ""
        yield
        result = (await self._query(CONFIRM_CONTACT_CHANGE, {
            "challengeId": self._contact_challenge, "code": code}))["confirmContactChange"]
        if result.get("__typename") != "Me":
            self.contact_error = code_error_message(result, self.lang)
            self.contact_field_key += 1  # empties the code
            if result.get("__typename") in ("CodeExpired", "TooManyAttempts"):
                self._contact_challenge = ""
                self.contact_step = FORM
            return
        kind = self.contact_kind
        self._take_me(result)
        self.contact_info = (self._t(EMAIL_CHANGED, value=self.email) if kind == "EMAIL"
                             else self._t(PHONE_CHANGED, value=self.phone))
        self.contact_step = self.contact_kind = self.contact_masked = ""
        self._contact_challenge = ""
        yield focus(CONTACT_BUTTONS.get(kind, CONTACT_BUTTONS["EMAIL"]))

    # --- my password ---------------------------------------------------------------------

    @rx.event
    def start_password_change(self) -> None:
        self.password_step = FORM
        self.password_error = self.password_info = self.password_masked = ""
        self._password_challenge = ""
        self.password_field_key += 1

    @rx.event
    def cancel_password_change(self) -> EventSpec:
        self.password_step = self.password_masked = self.password_error = ""
        self._password_challenge = ""
        return focus(PASSWORD_BUTTON)

    @rx.event
    @api_errors(error="password_error", busy="password_busy")
    async def request_password_change(self, form_data: dict[str, Any]
                                      ) -> AsyncIterator[EventSpec | None]:
        """My current password: a code goes to my usual contact."""
        if self.password_busy:
            return
        password = str(form_data.get("current_password") or "")
        if not password:
            self.password_error = self._t(CURRENT_PASSWORD_MISSING)
            return
        self.password_busy = True
        self.password_error = self.password_info = ""
        yield
        result = (await self._query(REQUEST_PASSWORD_CHANGE, {"currentPassword": password})
                  )["requestPasswordChange"]
        self.password_field_key += 1  # empties the field, whatever the answer
        if result.get("__typename") != "LoginChallenge":
            self.password_error = step_up_error(result, language=self.lang)
            return
        self._password_challenge = str(result["challengeId"])
        self.password_masked = str(result.get("maskedDestination") or "")
        self.step_up_channel = str(result.get("channel") or "")
        self.password_step = CODE

    @rx.event
    @api_errors(error="password_error", busy="password_busy")
    async def confirm_password_change(self, form_data: dict[str, Any]
                                      ) -> AsyncIterator[EventSpec | None]:
        """The code received, the new password twice."""
        if not self._password_challenge or self.password_busy:
            return
        code = normalise_code(form_data.get("code"))
        new_password = str(form_data.get("new_password") or "")
        confirmation = str(form_data.get("confirm_password") or "")
        if code is None:
            self.password_error = self._t(MALFORMED_CODE)
            return
        problem = new_password_error(new_password, confirmation, self.lang)
        if problem:
            self.password_error = problem
            self.password_field_key += 1
            return
        self.password_busy = True
        self.password_error = ""
        yield
        result = (await self._query(CONFIRM_PASSWORD_CHANGE, {
            "challengeId": self._password_challenge, "code": code, "newPassword": new_password,
        }))["confirmPasswordChange"]
        self.password_field_key += 1
        if result.get("__typename") != "PasswordChanged":
            self.password_error = confirm_error(result, self.lang)
            if result.get("__typename") in ("CodeExpired", "TooManyAttempts"):
                self._password_challenge = ""
                self.password_step = FORM
            return
        self.password_info = self._t(PASSWORD_CHANGED)
        self.password_step = self.password_masked = ""
        self._password_challenge = ""
        yield focus(PASSWORD_BUTTON)

    # --- preferences ---------------------------------------------------------------------

    @rx.event
    def set_pref_channel(self, value: str) -> None:
        if value in CHANNELS:
            self.pref_channel = value

    @rx.event
    def set_pref_new_document(self, value: bool) -> None:
        self.pref_new_document = bool(value)

    @rx.event
    def set_pref_new_message(self, value: bool) -> None:
        self.pref_new_message = bool(value)

    @rx.event
    def set_pref_language(self, value: str) -> None:
        if value in LANGUAGES:
            self.pref_language = value

    @rx.event
    @api_errors(error="pref_error", busy="pref_busy")
    async def save_preferences(self) -> AsyncIterator[EventSpec | None]:
        """"Enregistrer": notices and language. A language I have just chosen here becomes
        this tab's as well (the page reloads in it and says it was saved)."""
        if self.pref_busy:
            return
        language = self.pref_language
        chosen_here = language != self._saved_language
        self.pref_busy = True
        self.pref_error = self.pref_info = ""
        yield
        result = (await self._query(UPDATE_PREFERENCES, {
            "language": language, "notificationChannel": self.pref_channel,
            "notifyNewDocument": self.pref_new_document,
            "notifyNewMessage": self.pref_new_message,
        }))["updatePreferences"]
        if result.get("__typename") != "Me":
            if result.get("__typename") == "ChannelUnavailable":
                self.pref_error = self._t(CHANNEL_UNAVAILABLE.get(self.pref_channel,
                                                                  CHANNEL_UNAVAILABLE["EMAIL"]))
            else:
                self.pref_error = fallback_message(result, self.lang)
            return
        self._take_me(result)
        if chosen_here and self._saved_language != normalise(self.lang):
            self._flash = gettext(self._saved_language, PREFERENCES_SAVED)
            yield LanguageState.set_language(self._saved_language)
            return
        self.pref_info = self._t(PREFERENCES_SAVED)
