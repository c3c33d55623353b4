"""Sending a reset link by e-mail, when the installation has an SMTP server (``SMTP_HOST``).

No mail server is assumed: without one the link is only shown to the official (of the
ministry, or the province's lead) who issued it. The message is in Vietnamese with English
below, whatever the language of the page it was sent from (the recipient's language is unknown).

Sending happens inside the request that issued the link (the link is never stored, so no
background job may carry it); :data:`TIMEOUT` bounds the whole exchange, not each step.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from catalogue.i18n import local_time

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: Seconds the whole exchange with the SMTP server may take (the issuing page waits meanwhile).
TIMEOUT = 5.0


class MailError(Exception):
    """The message could not be handed to the SMTP server; the text says why, for the log only."""


def configured(config: Mapping[str, Any]) -> bool:
    return bool(config.get("SMTP_HOST"))


def sender(config: Mapping[str, Any]) -> str:
    """``SMTP_FROM``, else the SMTP user when it is an address, else no-reply at the public host."""
    if config.get("SMTP_FROM"):
        return str(config["SMTP_FROM"])
    if "@" in str(config.get("SMTP_USER") or ""):
        return str(config["SMTP_USER"])
    host = urlsplit(str(config.get("PUBLIC_BASE_URL") or "")).hostname or "localhost"
    return f"no-reply@{host}"


def reset_message(config: Mapping[str, Any], *, to: str, link: str, expires_at: datetime) -> EmailMessage:
    """The e-mail carrying a reset link: Vietnamese first, English below."""
    local = local_time(expires_at)
    vi_when = local.strftime("%H:%M ngày %d/%m/%Y")
    en_when = local.strftime("%d %B %Y, %H:%M") + " (Vietnam time)"
    message = EmailMessage()
    message["Subject"] = "Đặt lại mật khẩu khu vực cán bộ / Reset your workspace password"
    message["From"] = sender(config)
    message["To"] = to
    message["Message-ID"] = make_msgid(domain=sender(config).rpartition("@")[2] or None)
    message.set_content(
        "Kính gửi anh/chị,\n\n"
        "Cán bộ đầu mối của tỉnh hoặc cán bộ Bộ Công Thương đã tạo cho tài khoản của anh/chị "
        "một liên kết đặt lại mật khẩu "
        "khu vực cán bộ của cơ sở dữ liệu sản phẩm CNNT tiêu biểu:\n\n"
        f"{link}\n\n"
        f"Liên kết chỉ dùng được một lần, trước {vi_when}. Nếu anh/chị không yêu cầu, "
        "hãy bỏ qua thư này và báo cho cán bộ của Bộ.\n\n"
        "----\n\n"
        "Your province's lead official or a ministry official has issued a link to reset your password "
        "for the officials' workspace "
        "of the registry of outstanding rural industrial products:\n\n"
        f"{link}\n\n"
        f"The link works once, until {en_when}. If you did not ask for it, ignore this message "
        "and tell the ministry.\n"
    )
    return message


class _DeadlineSMTP(smtplib.SMTP):
    """An SMTP client whose every step waits only for what is left of one deadline."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(host, port, timeout=self._left())

    def _left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no answer within {TIMEOUT:g} seconds in all")
        sock = getattr(self, "sock", None)  # none yet while connecting
        if sock is not None:
            sock.settimeout(remaining)
        return remaining

    def send(self, s: Buffer | str) -> None:
        self._left()
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        self._left()
        return super().getreply()


def send(config: Mapping[str, Any], message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server (STARTTLS and login when set), all within :data:`TIMEOUT`."""
    deadline = time.monotonic() + TIMEOUT
    sent = False
    try:
        with _DeadlineSMTP(str(config["SMTP_HOST"]), int(config["SMTP_PORT"]), deadline) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                smtp.login(str(config["SMTP_USER"]), str(config.get("SMTP_PASSWORD") or ""))
            smtp.send_message(message)
            sent = True
    except (smtplib.SMTPException, OSError) as exc:
        if sent:
            return  # handed over; only the goodbye (QUIT) failed
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
