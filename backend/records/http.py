"""Plain HTTP endpoints of the record: content download, for the patient and for professionals
the access policy allows (backend/access/policy.py). The caller comes from the authentication
middleware (`request.user`, backend/access/authentication.py). Refusals are JSON: a stable
`error` code and a `message` in the request's language."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from backend.access import policy
from backend.access.authentication import route_scope, signed_in
from backend.app_scopes import DOCUMENTS_READ
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.errors import NOT_AUTHENTICATED_MESSAGE
from backend.i18n import N_, gettext
from backend.records import services
from backend.records.sniffing import EXTENSIONS
from backend.records.storage import BlobNotFound
from backend.text import clean_label

# A document is data to save, never a page to render in Carnet's origin.
CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def content_disposition(title: str, content_type: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name in filename*. Control and bidirectional
    characters are stripped again here (titles stored before they were refused at write)."""
    extension = EXTENSIONS.get(content_type, "bin")
    name = f"{clean_label(title) or 'document'}.{extension}"
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


NOT_FOUND = N_("Document introuvable.")


def _not_found() -> Response:
    # The same answer for "missing", "someone else's" and "not yet released".
    return JSONResponse({"error": "not_found", "message": gettext(NOT_FOUND)}, status_code=404,
                        headers=CONTENT_HEADERS)


@route_scope(DOCUMENTS_READ)
async def download_content(request: Request) -> Response:
    runtime = request.app.state.runtime
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "unauthenticated",
                             "message": gettext(NOT_AUTHENTICATED_MESSAGE)}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer", **CONTENT_HEADERS})
    if user.viewer is None:
        return _not_found()
    # The access log entry of a professional's download is written before the response
    # leaves (one statement; none for the patient's own download).
    async with access_log.recording():
        document, access = await services.document_for_viewer(
            user.viewer, request.path_params["id"],
            expiry_days=runtime.settings.care_relationship_expiry_days)
        if document is None:
            return _not_found()
        titles = await services.decrypt_titles(runtime.settings, [document])
        try:
            stream = await services.open_content(runtime, document)
            # Pull the first chunk now, so a missing blob is a clean error, not a cut response.
            first = await anext(stream, b"")
        except BlobNotFound:
            return _not_found()
        if access.is_patient_self:  # a professional's read never counts as the patient's
            await services.mark_seen(document)
        await policy.touch(access)
        policy.log_read(access, AccessKind.DOCUMENT_CONTENT, document_id=document.id)

    async def body():  # noqa: ANN202
        if first:
            yield first
        async for chunk in stream:
            yield chunk

    headers = {
        **CONTENT_HEADERS,
        "Content-Disposition": content_disposition(titles[document.id], document.content_type),
        "Content-Length": str(document.size),
    }
    return StreamingResponse(body(), media_type=document.content_type, headers=headers)
