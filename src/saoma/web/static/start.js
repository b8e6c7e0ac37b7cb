/* The start page; in demo mode, one click signs in as any demo consumer or merchant, and the
   demo's operators are listed with their authenticator QR codes for the console. */
"use strict";

Object.assign(DICT.en, {
  demo_operators: "Be an operator",
  demo_operators_how: "Scan a role's code into an authenticator app, then sign in at the console with its login, the password {password} and the app's 6-digit code.",
  demo_open_console: "Open the console",
  demo_role_support: "Support", demo_role_risk: "Risk", demo_role_finance: "Finance", demo_role_admin: "Administrator",
  demo_totp_qr: "Authenticator code for {login}",
});
Object.assign(DICT.zh, {
  demo_operators: "作为运营人员",
  demo_operators_how: "用身份验证器应用扫描对应岗位的二维码，然后在控制台用该账号、密码 {password} 和应用里的 6 位验证码登录。",
  demo_open_console: "打开控制台",
  demo_role_support: "客服", demo_role_risk: "风控", demo_role_finance: "财务", demo_role_admin: "管理员",
  demo_totp_qr: "{login} 的身份验证器二维码",
});

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
    drawOperators();
  }

  /** Each role's operator: login, the TOTP QR code to scan, the otpauth:// URI as text. */
  function drawOperators() {
    const operators = config.operators || [];
    $("#s-operators-card").hidden = !operators.length;
    $("#s-operators-how").textContent = t("demo_operators_how", { password: config.password });
    $("#s-operators").replaceChildren(...operators.map((o) => {
      const qr = Saoma.qrSvg(o.uri);
      qr.setAttribute("role", "img");
      qr.setAttribute("aria-label", t("demo_totp_qr", { login: o.login }));
      qr.classList.add("totp-qr");
      return el("li", { class: "demo-operator" },
        el("span", { class: "grow" }, el("strong", { text: t("demo_role_" + o.role) }), el("br"),
          el("span", { class: "small", text: o.login }), el("br"),
          el("code", { class: "small muted uri", text: o.uri })),
        qr);
    }), el("li", {}, el("a", { class: "button secondary", href: "/console", text: t("demo_open_console") })));
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
