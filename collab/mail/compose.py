"""Compose a message: plain text and HTML parts, attachments, the headers
every message of ours carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from collab.models import utcnow

__all__ = ["Attachment", "Draft", "compose"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class Draft:
    """What a feature wants sent; :func:`compose` turns it into a message."""

    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str = "notice"
    attachments: tuple[Attachment, ...] = ()
    #: One-click unsubscribe (RFC 8058) for notices; None for what must arrive
    #: whatever the settings (a password reset).
    unsubscribe_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def compose(draft: Draft, sender: str, base_url: str) -> EmailMessage:
    """The whole message, its ``Message-ID`` on our own domain."""
    domain = urlsplit(base_url).hostname or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=draft.to)
    message["Subject"] = draft.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid("collab", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to us
    if draft.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{draft.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in draft.headers.items():
        message[name] = value
    message.set_content(draft.text)
    if draft.html is not None:
        message.add_alternative(draft.html, subtype="html")
    for attachment in draft.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, _, params = rest.partition(";")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype.strip(),
            filename=attachment.filename,
            params=dict(_param(p) for p in params.split(";") if "=" in p),
        )
    return message


def _param(text: str) -> tuple[str, str]:
    name, _, value = text.strip().partition("=")
    return name.strip(), value.strip()
