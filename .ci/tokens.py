"""Print access tokens for the demo admin, a demo bank admin and the demo farmer (for schemathesis)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import httpx

base = sys.argv[1].rstrip("/") + "/api/v1"
who = sys.argv[2]
with httpx.Client(timeout=30) as c:
    if who == "farmer":
        phone = "+8613800000001"
        c.post(f"{base}/auth/sms-codes", json={"phone": phone, "purpose": "login"}).raise_for_status()
        outbox = Path(os.environ["SMS_OUTBOX_PATH"]).read_text(encoding="utf-8").splitlines()
        text = next(json.loads(line)["text"] for line in reversed(outbox) if json.loads(line)["phone"] == phone)
        code = re.search(r"(?<!\d)\d{6}(?!\d)", text).group(0)
        r = c.post(f"{base}/auth/sessions", json={"phone": phone, "code": code})
    else:
        creds = {"admin": ("admin", "Puhuitong-Ops-2026"), "bank": ("abc-admin", "Puhuitong-Bank-2026")}[who]
        r = c.post(f"{base}/auth/password-sessions", json={"username": creds[0], "password": creds[1]})
    r.raise_for_status()
    print(r.json()["access_token"])
