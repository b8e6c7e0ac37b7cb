/* The start page; in demo mode, one click signs in as any demo consumer or merchant, and the
   demo's operators are listed with their authenticator QR codes for the console. */
"use strict";

Object.assign(DICT.en, {
  demo_operators: "Be an operator",
  demo_operators_how: "Scan a role's code into an authenticator app, then sign in at the console with its login, the password {password} and the app's 6-digit code.",
  demo_open_console: "Open the console",
  demo_role_support: "Support", demo_role_risk: "Risk", demo_role_finance: "Finance", demo_role_admin: "Administrator",
  demo_totp_qr: "Authenticator code for {login}",
  start_try: "What to try",
  start_wallet: "Wallet", start_wallet_what: "For people: scan a shop's code, show a payment code, send money and red packets.",
  start_till: "Till", start_till_what: "For a shop's counter: type an amount, show the code, hear the money arrive.",
  start_dashboard: "Dashboard", start_dashboard_what: "For the shop owner: takings, refunds, statements and payouts.",
  start_console: "Console", start_console_what: "For Saoma's staff: find a person, freeze an account, decide disputes.",
  start_credentials: "Demo sign-in", start_password: "Password of every demo account",
  start_pin: "Payment PIN and manager PIN", start_login: "Login: {login}",
});
Object.assign(DICT.zh, {
  demo_operators: "作为运营人员",
  demo_operators_how: "用身份验证器应用扫描对应岗位的二维码，然后在控制台用该账号、密码 {password} 和应用里的 6 位验证码登录。",
  demo_open_console: "打开控制台",
  demo_role_support: "客服", demo_role_risk: "风控", demo_role_finance: "财务", demo_role_admin: "管理员",
  demo_totp_qr: "{login} 的身份验证器二维码",
  start_try: "试试这些",
  start_wallet: "钱包", start_wallet_what: "给个人用：扫商家的码、出示付款码、转账、发红包。",
  start_till: "收银台", start_till_what: "给店铺柜台用：输入金额、出示收款码、语音播报到账。",
  start_dashboard: "商户后台", start_dashboard_what: "给店主用：收款、退款、对账单和结算。",
  start_console: "控制台", start_console_what: "给扫码的工作人员用：查找用户、冻结账户、裁决争议。",
  start_credentials: "演示账户登录", start_password: "所有演示账户的密码",
  start_pin: "支付密码和店长密码", start_login: "账号：{login}",
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
    $("#s-password").textContent = config.password;
    $("#s-pin-code").textContent = config.pin;
    const login = (who) => el("span", { class: "small muted demo-login" }, t("start_login", { login: "" }),
      el("code", { text: who.login }));
    $("#s-consumers").replaceChildren(...config.consumers.map((c) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: c.name }), el("br"), login(c)),
      demoButton("consumer", c.login, t("open_wallet"), "/wallet"))));
    $("#s-merchants").replaceChildren(...config.merchants.map((m) => el("li", {},
      el("span", { class: "grow" }, el("strong", { text: Saoma.merchantName(m) }), el("br"),
        el("span", { class: "small muted", text: m.note }), el("br"), login(m)),
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
