"""Sending SMS: one interface, backends chosen by SMS_BACKEND (`console`, `file`, `aliyun`)."""

from app.sms.service import get_backend, send_sms

__all__ = ["get_backend", "send_sms"]
