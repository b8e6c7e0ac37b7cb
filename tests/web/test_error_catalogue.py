"""Every message is a sentence in the page's language: each problem the API can return, each
field a refused request can name, and a lost connection read in Chinese and in English as the
pages show them (``Saoma.human``), never the server's developer text nor "HTTP 0"."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page

from saoma.api import problems
from support import Server
from support_web import new_page, phone

HAN = re.compile(r"[\u4e00-\u9fff]")
DETAIL = "developer words: to is a wallet id"

# Each refusal as ``api()`` makes it from a problem document, read by ``human()``.
_READ = """([lang, docs]) => {
  Saoma.setLang(lang);
  return docs.map((doc) => Saoma.human(new Saoma.ApiError(doc, doc.status)));
}"""


def _request_fields(server: Server) -> list[str]:
    """Every field a request to the API can carry (bodies, queries, paths), from its OpenAPI."""
    import httpx

    document = httpx.get(server.url + "/openapi.json").json()
    schemas = document["components"]["schemas"]
    fields = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            fields |= {p["name"] for p in operation.get("parameters", []) if p["in"] != "header"}
            body = operation.get("requestBody", {}).get("content", {})
            ref = body.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                fields |= set(schemas[ref.rsplit("/", 1)[1]].get("properties", {}))
    return sorted(fields)


def _read(page: Page, lang: str, docs: list[dict[str, Any]]) -> list[str]:
    return list(page.evaluate(_READ, [lang, docs]))


def _in_language(lang: str, sentence: str) -> bool:
    if DETAIL in sentence or "HTTP" in sentence or "Failed to fetch" in sentence:
        return False
    return bool(HAN.search(sentence)) == (lang == "zh")


def test_every_problem_type_reads_as_a_sentence_in_the_pages_language(
    server: Server, browser: Any
) -> None:
    import httpx

    rows = httpx.get(server.url + "/v1/problems").json()["data"]  # what the API says it returns
    assert rows == problems.catalogue()
    slugs = sorted({row["slug"] for row in rows})
    assert len(slugs) > 60  # the walk sees the whole catalogue
    status = {row["slug"]: row["status"] for row in rows}
    row_type = {row["slug"]: row["type"] for row in rows}
    docs = [{"type": row_type[slug], "status": status[slug], "detail": DETAIL} for slug in slugs]
    context, page = new_page(browser, **phone())
    try:
        page.goto(server.url + "/")
        generic = {lang: _read(page, lang, [{"status": 400}])[0] for lang in ("en", "zh")}
        wrong = []
        for lang in ("en", "zh"):
            for slug, sentence in zip(slugs, _read(page, lang, docs), strict=True):
                if sentence == generic[lang] or not _in_language(lang, sentence):
                    wrong.append(f"{lang} {slug}: {sentence!r}")
        assert not wrong, "no sentence of its own:\n" + "\n".join(wrong)
    finally:
        context.close()


def test_a_refused_field_reads_as_a_sentence_in_the_pages_language(
    server: Server, browser: Any
) -> None:
    fields = _request_fields(server)
    assert {"amount", "pin", "to", "payload", "url"} <= set(fields)
    invalid = problems.e.TYPE_BASE + "invalid-request"
    docs = [
        {"type": invalid, "status": 422, "detail": f"{f}: {DETAIL}", "field": f} for f in fields
    ]
    context, page = new_page(browser, **phone())
    try:
        page.goto(server.url + "/")
        wrong = [
            f"{lang} {field}: {sentence!r}"
            for lang in ("en", "zh")
            for field, sentence in zip(fields, _read(page, lang, docs), strict=True)
            if not _in_language(lang, sentence)
        ]
        assert not wrong, "\n".join(wrong)
        # The fields a person types into the pages have a sentence of their own.
        typed = ["amount", "pin", "to", "payload", "login", "password", "shares", "manager_pin"]
        typed_docs = [{"type": invalid, "status": 422, "field": f} for f in typed]
        for lang in ("en", "zh"):
            plain = _read(page, lang, [{"type": invalid, "status": 422}])[0]
            said = dict(zip(typed, _read(page, lang, typed_docs), strict=True))
            assert [f for f, sentence in said.items() if sentence == plain] == []
    finally:
        context.close()


def test_a_lost_connection_reads_as_a_sentence_not_http_0(server: Server, browser: Any) -> None:
    context, page = new_page(browser, **phone())
    try:
        page.goto(server.url + "/")
        page.route("**/v1/me", lambda route: route.abort("internetdisconnected"))
        lost = """async (lang) => {
          Saoma.setLang(lang);
          const failed = await Saoma.api("GET", "/v1/me").catch((err) => err);
          const raw = await fetch("/v1/me").catch((err) => err);  // "Failed to fetch"
          return [failed.message, Saoma.human(failed), Saoma.human(raw)];
        }"""
        english = page.evaluate(lost, "en")
        assert english == ["No connection. Nothing was charged; try again."] * 3
        chinese = page.evaluate(lost, "zh")
        assert chinese == ["网络连接失败，没有扣款，请重试。"] * 3
        context.set_offline(True)
        offline = page.evaluate(lost, "zh")
        assert offline == chinese
    finally:
        context.close()
