"""Ordering at the table, without I/O: the table's code, the menu, what an order costs and the
limits on it. Prices in fen; the total is always the menu's, never the page's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from saoma.demo_apps.serving import Refused

CODE_PREFIX = "saoma-table:"
_TABLE = re.compile(r"^saoma-table:([1-9]\d{0,2})$", re.IGNORECASE)
DISHES_PER_ORDER_MAX = 10  # different dishes on one order
QUANTITY_MAX = 20  # of one dish
DESCRIPTION_MAX = 128  # characters, as the merchant API keeps them


@dataclass(frozen=True)
class Dish:
    id: str
    name: str
    name_zh: str
    price: int  # fen
    picture: str  # the drawing's file, served by the table app itself

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "name_zh": self.name_zh,
            "price": self.price,
            "picture": f"/static/{self.picture}",
        }


MENU = (
    Dish("har-gow", "Shrimp dumplings", "虾饺", 1_800, "dish-har-gow.svg"),
    Dish("char-siu-bao", "BBQ pork buns", "叉烧包", 1_200, "dish-char-siu-bao.svg"),
    Dish("beef-ho-fun", "Beef ho fun", "干炒牛河", 3_200, "dish-beef-ho-fun.svg"),
    Dish("wonton-noodles", "Wonton noodles", "云吞面", 2_200, "dish-wonton-noodles.svg"),
    Dish("milk-tea", "Silk-stocking milk tea", "丝袜奶茶", 900, "dish-milk-tea.svg"),
    Dish("mango-pudding", "Mango pudding", "芒果布丁", 1_200, "dish-mango-pudding.svg"),
)
BY_ID = {dish.id: dish for dish in MENU}
PICTURES = frozenset(dish.picture for dish in MENU)


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def table_of(code: str) -> str | None:
    """The table's number from the code on it (``saoma-table:12``), or None."""
    found = _TABLE.match(code.strip())
    return found.group(1) if found else None


@dataclass(frozen=True)
class Priced:
    lines: tuple[tuple[Dish, int], ...]  # each dish once, with its quantity
    total: int  # fen

    def description(self, table: str) -> str:
        """What the payer's sheet and the merchant's payment list show (the API keeps 128
        characters)."""
        text = f"Table {table}: " + ", ".join(f"{n} × {dish.name}" for dish, n in self.lines)
        return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def price(lines: Any, shown_total: Any) -> Priced:
    """An order's dishes priced from the menu. ``lines`` is ``[{"dish": id, "quantity": n}]``;
    ``shown_total`` the total the diner was shown, which must be the menu's."""
    if not isinstance(lines, list) or not lines:
        raise Refused("choose at least one dish", "lines")
    if len(lines) > DISHES_PER_ORDER_MAX:
        raise Refused(f"at most {DISHES_PER_ORDER_MAX} different dishes an order", "lines")
    counted: dict[str, int] = {}
    for n, line in enumerate(lines):
        dish = line.get("dish") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if not isinstance(dish, str) or dish not in BY_ID:
            raise Refused("not a dish on the menu", f"lines[{n}].dish")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise Refused("a whole number", f"lines[{n}].quantity")
        if not 1 <= quantity <= QUANTITY_MAX or counted.get(dish, 0) + quantity > QUANTITY_MAX:
            raise Refused(f"from 1 to {QUANTITY_MAX} of a dish", f"lines[{n}].quantity")
        counted[dish] = counted.get(dish, 0) + quantity
    priced = Priced(
        tuple((BY_ID[d], q) for d, q in counted.items()),
        sum(BY_ID[d].price * q for d, q in counted.items()),
    )
    if type(shown_total) is not int or shown_total != priced.total:
        raise Refused(f"the total does not match the menu's ({yuan(priced.total)})", "total")
    return priced
