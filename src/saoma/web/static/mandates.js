/* Mandates on the wallet (kept apart from wallet.js): recurring debits the payer agreed to.

   Each mandate shows the merchant, its purpose and limits, the next debit to expect (the amount
   once a notice announced it), the notices waiting (each with "Object") and every debit made or
   refused. A request is agreed to with the PIN or declined; an agreed one is paused, resumed or
   revoked with one tap, at once. */
"use strict";

const SaomaMandates = (() => {
  const { t, money, api, guard, el, $ } = Saoma;
  const base = "/v1/me/mandates";

  function terms(m) {
    return t("md_terms", {
      amount: money(m.amount_max, m.currency),
      frequency: t("md_freq_" + m.frequency),
      start: m.start_on,
      end: m.end_on,
    });
  }

  function next(m) {
    const n = m.next_debit;
    if (!n) return null;
    const text = n.amount === null
      ? t("md_next_unknown", { time: Saoma.when(n.at) })
      : t("md_next", { amount: money(n.amount, m.currency), time: Saoma.when(n.at) });
    return el("p", { class: "md-next", text });
  }

  function notices(m) {
    const now = Date.now();
    const waiting = m.notices.filter((n) => n.state === "pending" && m.state !== "revoked"
      && Date.parse(n.expires_at) > now);
    if (!waiting.length) return null;
    return el("ul", { class: "list md-notices" }, ...waiting.map((n) => el("li", { class: "md-notice" },
      el("span", { class: "grow", text: t("md_notice", { amount: money(n.amount, n.currency), time: Saoma.when(n.debit_from) }) }),
      el("button", { type: "button", class: "plain", text: t("md_object"),
        onclick: (ev) => act(ev.target, m, `/notices/${n.id}/object`) }))));
  }

  function debits(m) {
    if (!m.debits.length) return el("p", { class: "small muted", text: t("md_no_debits") });
    return el("ul", { class: "list md-debits" }, ...m.debits.map((d) => el("li", { class: "md-debit md-" + d.state },
      el("span", { class: "grow", text: Saoma.when(d.created_at) }),
      el("strong", { text: money(d.amount, m.currency) }), " ",
      el("span", { class: "small", text: d.state === "made" ? t("md_debited") : Saoma.human({ slug: d.reason }) }))));
  }

  function actions(m) {
    const button = (name, action, secondary) => el("button", {
      type: "button", class: secondary ? "secondary" : null, text: t("md_" + name),
      onclick: (ev) => act(ev.target, m, "/" + action),
    });
    if (m.state === "requested") {
      const pin = el("input", { id: `md-pin-${m.id}`, class: "pin", type: "password", inputmode: "numeric", maxlength: "6", autocomplete: "off" });
      const agree = el("button", { type: "button", text: t("md_agree"),
        onclick: (ev) => act(ev.target, m, "/agree", { pin: pin.value.trim() }) });
      return el("div", {}, el("label", { for: pin.id, text: t("pin") }), pin,
        el("div", { class: "row" }, agree, button("decline", "revoke", true)));
    }
    if (m.state === "revoked") return null;
    return el("div", { class: "row" },
      m.state === "active" ? button("pause", "pause", true) : button("resume", "resume", true),
      button("revoke", "revoke", true));
  }

  function card(m) {
    return el("li", { class: "md-item card", dataset: { mandateId: m.id, state: m.state } },
      el("div", { class: "grow" },
        el("strong", { text: Saoma.lang === "zh" && m.merchant.name_zh ? m.merchant.name_zh : m.merchant.name }), " ",
        el("span", { class: "tag md-state", text: t("md_state_" + m.state) }),
        el("div", { class: "md-purpose", text: m.purpose }),
        el("div", { class: "small muted", text: terms(m) }),
        next(m), notices(m),
        el("h3", { class: "small", text: t("md_debits") }), debits(m),
        el("p", { class: "notice md-out", hidden: true }),
        actions(m)));
  }

  async function act(button, m, path, body) {
    const out = button.closest(".md-item").querySelector(".md-out");
    await guard(button, out, async () => {
      await api("POST", `${base}/${m.id}${path}`, body);
      await list();
    });
  }

  async function list() {
    const { data } = await api("GET", base);
    $("#md-list").replaceChildren(...(data.length ? data.map(card)
      : [el("li", { class: "muted", text: t("md_none") })]));
  }

  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail === "v-mandates") list().catch((err) => Saoma.toast(Saoma.human(err), "err"));
  });
  return { refresh: list };
})();
