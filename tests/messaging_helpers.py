"""GraphQL documents and setup shared by the messaging tests."""

from __future__ import annotations

from backend.identity.models import Account, Person
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in

START = """mutation Start($input: StartConversationInput!) {
  startConversation(input: $input) {
    __typename
    ... on ConversationStarted {
      conversation { id subject unreadCount } firstMessage { id cursor } }
    ... on Error { message }
  }
}"""

SEND = """mutation Send($c: ID!, $body: String!, $att: [ID!]) {
  sendMessage(conversationId: $c, body: $body, attachmentIds: $att) {
    __typename
    ... on MessageSent { sentMessage { id cursor body isMine attachments { documentId } } }
    ... on InvalidMessage { field }
    ... on Error { message }
  }
}"""

CONVERSATIONS = """query Convs($first: Int!) {
  conversations(first: $first) {
    edges { node { id subject unreadCount patientParticipates
      lastMessage { body authorName isMine }
      participants { displayName isPatient isMe } } }
  }
}"""

MESSAGES = """query Msgs($c: ID!, $first: Int!, $after: String, $before: String) {
  messages(conversationId: $c, first: $first, after: $after, before: $before) {
    edges { cursor node { body authorName isMine cursor } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def people(gql, notifier):
    """A patient and two professionals, signed in: dict of name -> (account, token)."""
    patient = await create_patient(email="patient@example.fr")
    doctor = await create_professional(email="doctor@example.fr")
    nurse = await create_professional(email="nurse@example.fr")
    return {
        "patient": (patient, await sign_in(gql, notifier, "patient@example.fr", PASSWORD)),
        "doctor": (doctor, await sign_in(gql, notifier, "doctor@example.fr", PASSWORD)),
        "nurse": (nurse, await sign_in(gql, notifier, "nurse@example.fr", PASSWORD)),
    }


async def patient_identity(account: Account) -> dict:
    person = await Person.get(id=account.person_id)
    return {"insMatricule": person.matricule, "birthName": person.birth_name,
            "birthDate": person.birth_date.isoformat()}


async def start(gql, token: str, patient_account: Account, *, subject="Résultats",
                body="Bonjour, vos résultats sont arrivés.", include_patient=True,
                rpps: list[str] | None = None) -> dict:
    result = await gql(START, {"input": {
        "subject": subject, "patient": await patient_identity(patient_account),
        "includePatient": include_patient, "professionalRpps": rpps or [], "body": body}},
        token=token)
    assert result.get("data"), result
    return result["data"]["startConversation"]
