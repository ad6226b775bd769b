"""The CRM catalogue as NLU vocabulary: product names and aliases, client names, domain terms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Client, Product
from bot.settings import PACKAGE_DIR
from bot.text import normalize

DOMAIN_TERMS = PACKAGE_DIR / "data" / "domain_terms.yml"


@dataclass(frozen=True)
class Term:
    text: str  # as it appears in messages (normalised)
    label: str  # entity type: product or client_name
    value: str  # canonical value the slot receives


def domain_terms() -> list[str]:
    return list(yaml.safe_load(DOMAIN_TERMS.read_text(encoding="utf-8"))["terms"])


def catalogue_terms(session: Session) -> list[Term]:
    """Every entity term the catalogue knows, longest first (so 白金信用卡 wins over 白金卡)."""
    terms: dict[tuple[str, str], Term] = {}
    for product in session.scalars(select(Product).where(Product.active.is_(True))):
        for text in [product.name, *(product.aliases or [])]:
            text = normalize(str(text)).strip()
            if text:
                terms.setdefault((text, "product"), Term(text, "product", product.name))
    for name in session.scalars(select(Client.name).distinct()):
        text = normalize(name).strip()
        if len(text) >= 2:
            terms.setdefault((text, "client_name"), Term(text, "client_name", name))
    return sorted(terms.values(), key=lambda t: (-len(t.text), t.text))


def write_jieba_userdict(session: Session, directory: Path) -> Path:
    """Write jieba's user dictionary (one ``word freq`` per line) from the catalogue."""
    directory.mkdir(parents=True, exist_ok=True)
    words = {t.text for t in catalogue_terms(session)} | {normalize_term(t) for t in domain_terms()}
    path = directory / "userdict.txt"
    content = "".join(f"{word} 2000\n" for word in sorted(words) if " " not in word)
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")  # unchanged file keeps Rasa's fingerprint
    return path


def normalize_term(text: str) -> str:
    return normalize(text).strip()
