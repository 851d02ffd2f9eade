"""Made-up Brazilian customers for ``zapline simulate``: names, mobile numbers and what they write.

Everything is drawn from a seeded ``random.Random``, so one seed always gives the same people.
Numbers are 55 + a real DDD + 9 + eight digits starting 6–9 (a Brazilian mobile), never the
sandbox's "not on WhatsApp" pattern.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Customer", "pick_text", "make_customers"]

_FIRST = (
    "Ana", "Bruno", "Carla", "Daniel", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
    "Juliana", "Lucas", "Mariana", "Mateus", "Natália", "Otávio", "Patrícia", "Rafael", "Renata", "Rodrigo",
    "Sabrina", "Thiago", "Vanessa", "Vinícius", "Larissa", "Gustavo", "Camila", "Leonardo", "Beatriz", "André",
)  # fmt: skip
_LAST = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
    "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa",
    "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas",
)  # fmt: skip
_DDDS = (
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46,
    47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 79, 81, 82, 83, 84, 85,
    86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
)  # fmt: skip

TEXTS: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Oi, tudo bem?", "Olá! Vi o anúncio de vocês no Instagram 😀", "Boa tarde!",
        "Bom dia, vocês estão abertos hoje?", "Oi! Uma amiga me indicou vocês", "Olá, gostaria de mais informações",
        "Boa noite, ainda dá tempo de pedir?",
    ),
    "question": (
        "Qual o valor do plano mensal?", "Vocês entregam em Campinas?", "Consigo agendar para amanhã às 15h?",
        "Aceitam Pix?", "Tem desconto para pagamento à vista?", "Qual o prazo de entrega?",
        "Tem esse modelo no tamanho M?", "Quanto fica o frete para o CEP 01310-100?", "Vocês parcelam no cartão?",
        "Funciona no sábado?", "Pode me mandar o catálogo?", "Ainda tem disponível?",
    ),
    "follow_up": (
        "Obrigado!", "Perfeito, pode ser", "Vou pensar e te aviso", "Fechado 👍", "Pode me ligar mais tarde?",
        "Acabei de fazer o Pix", "Só um minuto que já te respondo", "Beleza, aguardo", "Valeu pela atenção!",
    ),
    "reply": (
        "Sim, pode ser", "Combinado!", "Qual horário?", "Não entendi, pode explicar?", "Ótimo, obrigada!",
        "Pode confirmar o endereço?", "Esse valor já inclui o frete?", "Perfeito 🙏",
    ),
    "caption": ("Segue a foto", "Esse modelo aqui", "Olha o que recebi", "", "Comprovante", ""),
    "emoji": ("👍", "❤️", "😂", "🙏", "😮", "🎉"),
}  # fmt: skip


@dataclass
class Customer:
    phone: str  # digits, e.g. 5511987654321
    name: str
    sent: int = 0  # messages written so far in this run
    answered: set[str] = field(default_factory=set)  # ids of our messages it has replied to


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    """``count`` customers with distinct numbers and plausible names."""
    seen: set[str] = set()
    out: list[Customer] = []
    while len(out) < count:
        phone = f"55{rng.choice(_DDDS)}9{rng.randint(6, 9)}{rng.randint(0, 9_999_999):07d}"
        if phone in seen:
            continue
        seen.add(phone)
        out.append(Customer(phone, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"))
    return out


def pick_text(rng: random.Random, pool: str) -> str:
    return rng.choice(TEXTS[pool])
