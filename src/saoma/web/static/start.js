/* The start page; in demo mode, one click signs in as any demo consumer or merchant. */
"use strict";

(() => {
  const { t, api, guard, el, $ } = Saoma;
  let config = null;

  function demoButton(kind, login, label, target) {
    return el("button", { type: "button", class: kind === "consumer" ? "" : "secondary", text: label,
      onclick: (ev) => guard(ev.target, "#s-out", async () => {
        await api("POST", "/web/demo-sessions", { kind, login });
        location.href = target;
      }) });
  }

  function draw() {
    if (!config || !config.demo) return;
    $("#s-demo").hidden = false;
    $("#s-pin").textContent = t("demo_pin", { pin: config.pin });
    $("#s-consumers").replaceChildren(...config.consumers.map((c) => el("li", {},
      el("span", { class: "grow", text: c.name }),
      demoButton("consumer", c.login, t("open_wallet"), "/wallet"))));
    $("#s-merchants").replaceChildren(...config.merchants.map((m) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: Saoma.merchantName(m) }), el("br"),
        el("span", { class: "small muted", text: m.note })),
      demoButton("merchant", m.login, t("cashier"), "/cashier"),
      demoButton("merchant", m.login, t("dashboard"), "/dashboard"))));
  }

  /** No SMS or e-mail leaves a demo: the codes the sandbox messenger "sent", newest first. */
  async function drawMessages() {
    const sent = await api("GET", "/v1/sandbox/messages?limit=10").catch(() => ({ data: [] }));
    $("#s-messages").replaceChildren(...(sent.data.length ? sent.data.map((m) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: m.to }), el("br"),
        el("span", { class: "small", text: m.body })),
      el("span", { class: "small muted", text: Saoma.when(m.sent_at) })))
      : [el("li", { class: "muted", text: t("demo_messages_none") })]));
  }

  document.addEventListener("saoma:lang", () => { draw(); if (config && config.demo) drawMessages(); });
  document.addEventListener("DOMContentLoaded", async () => {
    config = await api("GET", "/web/config").catch(() => null);
    draw();
    if (config && config.demo) drawMessages();
  });
})();
