from __future__ import annotations

from datetime import datetime

from kiunga.platform.db.base import TenantBase
from sqlalchemy import BigInteger, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column


class Site(TenantBase):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
