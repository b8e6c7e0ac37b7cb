/* The operators' console: sign in with a password and a TOTP code, find a person, type why,
   then see their page. Every look is logged by the server before it answers, and the person can
   read the entry (role, what, reason) in their wallet or dashboard.

   Places left for the other console features, each a function of SaomaConsole.hooks:
     consumerActions(page, box) / merchantActions(page, box): freeze and unfreeze buttons;
     kyc(page, box): a merchant's business details and the approve / reject decision;
     disputes(page, box): the person's disputes (GET /v1/ops/disputes?consumer_id=…);
     extra(operator, box): console-wide views (the books, the KYC and disputes queues).
   They are filled in console-actions.js (a person's page, a dispute) and console-views.js. */
"use strict";

Object.assign(DICT.en, {
  title_console: "Console",
  c_sign_in: "Operators' sign-in", c_login: "Login", c_code: "Code from the authenticator app (6 digits)",
  c_find: "Find a person", c_search_label: "ID, phone, e-mail or name", c_kind: "Kind", c_name: "Name",
  c_kind_consumer: "Wallet", c_kind_merchant: "Merchant", c_open: "Open", c_none: "Nobody found.", c_search: "Search",
  c_reason_title: "Why do you need to see this?",
  c_reason_label: "Ticket number or reason (shown to the person)",
  c_reason_for: "Opening {kind} {id}. The person will see your role and this reason.",
  c_reason_shown: "Reason on record: {reason}",
  c_actions: "Actions", c_history: "Payments", c_devices: "Payment-code devices",
  c_kyc: "Business details", c_disputes: "Disputes", c_disputes_later: "No disputes to show.",
  c_wallet: "Wallet", c_balance: "Balance", c_available: "Available", c_reserved: "Reserved",
  c_created: "Since", c_ids: "Phones and e-mails", c_city: "City", c_category: "Category",
  c_frozen: "Frozen since {since}: {reason}", c_nothing: "None.", c_signed_in_as: "{name} ({role})",
  c_frozen_by: "Frozen by: {role}. How to appeal: {appeal}",
  c_reason_dispute: "Opening dispute {id}. The payer and the merchant will see your role and this reason.",
});
Object.assign(DICT.zh, {
  title_console: "运营后台",
  c_sign_in: "运营人员登录", c_login: "账号", c_code: "身份验证器中的 6 位验证码",
  c_find: "查找用户", c_search_label: "ID、手机号、邮箱或姓名", c_kind: "类型", c_name: "名称",
  c_kind_consumer: "钱包", c_kind_merchant: "商户", c_open: "打开", c_none: "没有找到。", c_search: "搜索",
  c_reason_title: "查看的理由是什么？",
  c_reason_label: "工单号或理由（用户会看到）",
  c_reason_for: "即将打开{kind} {id}。用户将看到你的岗位和此理由。",
  c_reason_shown: "已记录的理由：{reason}",
  c_actions: "操作", c_history: "支付记录", c_devices: "付款码设备",
  c_kyc: "商户资料", c_disputes: "争议", c_disputes_later: "没有可显示的争议。",
  c_wallet: "钱包", c_balance: "余额", c_available: "可用", c_reserved: "冻结中",
  c_created: "注册于", c_ids: "手机号和邮箱", c_city: "城市", c_category: "类目",
  c_frozen: "自 {since} 起冻结：{reason}", c_nothing: "无。", c_signed_in_as: "{name}（{role}）",
  c_frozen_by: "冻结岗位：{role}。申诉方式：{appeal}",
  c_reason_dispute: "即将打开争议 {id}。付款人和商户将看到你的岗位和此理由。",
});

const SaomaConsole = (() => {
  const { t, $, el, api, show, guard, say, money, when } = Saoma;
  let operator = null;
  let opening = null; // {kind, id, then?, back} waiting for a reason
  let current = null; // {kind, id, reason, page}
  // What each role may do, as in saoma/operators/roles.py: only these actions are offered.
  const PERMISSIONS = {
    "people.read": ["support", "risk", "admin"], freeze: ["support", "risk", "admin"], unfreeze: ["risk", "admin"],
    "kyc.read": ["risk", "admin"], "kyc.decide": ["risk", "admin"], "disputes.read": ["support", "risk", "admin"],
    "disputes.decide": ["support", "admin"], "books.read": ["finance", "admin"], "audit.read": ["admin"],
  };

  /** Filled in by the features that build on the console (see the comment at the top). */
  const hooks = {
    consumerActions(page, box) {},
    merchantActions(page, box) {},
    kyc(page, box) {},
    disputes(page, box) { box.replaceChildren(el("p", { class: "muted", text: t("c_disputes_later") })); },
    extra(who, box) {},
  };

  /** A request that needs the typed reason (sent percent-encoded in Saoma-Reason). */
  function withReason(method, path, body) {
    return api(method, path, body, { "Saoma-Reason": encodeURIComponent(current.reason) });
  }

  let results = null; // the last search's results

  function who() {
    $("#c-who").textContent = t("c_signed_in_as", { name: operator.name || operator.login, role: t("role_" + operator.role) });
  }

  async function start() {
    try {
      operator = await api("GET", "/v1/ops/me");
    } catch (err) {
      show("c-signin");
      return;
    }
    who();
    $("#c-find").hidden = !may("people.read"); // finance reads the books, not people
    hooks.extra(operator, $("#c-extra"));
    show("c-main");
  }

  $("#c-signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#cs-out", async () => {
      await api("POST", "/console/session", {
        login: $("#cs-login").value.trim(), password: $("#cs-password").value, code: $("#cs-code").value.trim(),
      });
      $("#cs-password").value = ""; $("#cs-code").value = "";
      await start();
    });
  });

  $("#c-sign-out").addEventListener("click", async () => {
    await api("DELETE", "/console/session").catch(() => null);
    operator = null; current = null; results = null;
    $("#c-results").replaceChildren();
    $("#c-results-card").hidden = true;
    show("c-signin");
  });

  $("#c-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#c-search-out", async () => {
      const found = await api("GET", "/v1/ops/search?q=" + encodeURIComponent($("#c-q").value.trim()));
      Saoma.showAge($("#c-age"), found);
      renderResults(found.results);
    });
  });

  function renderResults(found) {
    results = found;
    $("#c-results-card").hidden = false;
    const body = $("#c-results");
    body.replaceChildren();
    if (!results.length) body.append(el("tr", {}, el("td", { colspan: "5", text: t("c_none") })));
    for (const r of results) {
      body.append(el("tr", {},
        el("td", { text: t("c_kind_" + r.kind) }), el("td", { class: "mono", text: r.id }),
        el("td", { text: r.name }), el("td", { text: r.login }),
        el("td", {}, el("button", { type: "button", class: "secondary", dataset: { kind: r.kind, id: r.id },
          text: t("c_open"), onclick: () => askReason(r.kind, r.id) }))));
    }
  }

  /** Ask why before opening ``kind`` ``id``; then ``then(reason)``, or the person's page. */
  function askReason(kind, id, then, back) {
    opening = { kind, id, then, back: back || "c-main" };
    $("#c-reason-who").textContent = kind === "dispute"
      ? t("c_reason_dispute", { id }) : t("c_reason_for", { kind: t("c_kind_" + kind), id });
    $("#c-reason-text").value = "";
    say("#c-reason-out", "", "ok");
    show("c-reason");
    $("#c-reason-text").focus();
  }

  $("#c-reason-back").addEventListener("click", () => show(opening ? opening.back : "c-main"));
  $("#c-person-back").addEventListener("click", () => show("c-main"));

  $("#c-reason-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(ev.submitter, "#c-reason-out", async () => {
      const reason = $("#c-reason-text").value.trim();
      if (opening.then) { await opening.then(reason); return; }
      current = { kind: opening.kind, id: opening.id, reason };
      const path = (current.kind === "consumer" ? "/v1/ops/consumers/" : "/v1/ops/merchants/") + encodeURIComponent(current.id);
      current.page = await withReason("GET", path);
      renderPerson();
    });
  });

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: v })]));
  }

  /** A wide table scrolls sideways in its own region, which the keyboard can reach too. */
  function table(rows, columns, label) {
    if (!rows.length) return el("p", { class: "muted", text: t("c_nothing") });
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t(label) }, el("table", {},
      el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => el("td", { text: c(r) })))))));
  }

  function renderPerson() {
    drawPerson();
    show("c-person");
  }

  function drawPerson() {
    const page = current.page;
    const consumer = current.kind === "consumer";
    const who = consumer ? page.consumer : page.merchant;
    $("#c-person-name").textContent = consumer ? (who.display_name || who.id) : (who.name_zh || who.name);
    $("#c-person-reason").textContent = t("c_reason_shown", { reason: current.reason });
    const freeze = page.freeze;
    $("#c-freeze").replaceChildren(freeze ? el("div", { class: "notice err", id: "c-frozen" },
      el("strong", { text: t("c_frozen", { since: when(freeze.since), reason: freeze.reason }) }),
      el("div", { class: "small", text: t("c_frozen_by", { role: t("role_" + freeze.by_role), appeal: freeze.appeal }) })) : "");
    $("#c-details").replaceChildren(el("h2", { text: who.id }), facts(consumer
      ? [["c_login", who.login], ["c_ids", who.identifiers.join(", ")], ["c_created", when(who.created_at)]]
      : [["c_login", who.login], ["c_name", who.name], ["c_city", who.city], ["c_category", who.category_code],
        ["c_created", when(who.created_at)]]));
    const w = consumer ? page.wallet : { currency: page.currency, balance: page.balance };
    $("#c-money").replaceChildren(el("h2", { text: t("c_wallet") }), facts(consumer
      ? [["c_balance", money(w.balance, w.currency)], ["c_available", money(w.available, w.currency)],
        ["c_reserved", money(w.reserved, w.currency)]]
      : [["c_balance", money(w.balance, w.currency)]]));
    const payments = consumer ? page.history : page.payments;
    $("#c-history").replaceChildren(table(payments, [(p) => when(p.created_at), (p) => p.id,
      (p) => p.merchant ? Saoma.merchantName(p.merchant) : p.note || "", (p) => money(p.amount, p.currency)],
      "c_history"));
    $("#c-holds-card").hidden = !consumer;
    $("#c-devices-card").hidden = !consumer;
    if (consumer) {
      $("#c-holds").replaceChildren(table(page.holds, [(h) => h.id, (h) => t("hold_state_" + h.state),
        (h) => money(h.amount, h.currency)], "holds"));
      $("#c-devices").replaceChildren(table(page.devices, [(d) => d.id, (d) => d.label], "c_devices"));
    }
    const actions = $("#c-actions");
    actions.replaceChildren(el("h2", { text: t("c_actions") }));
    (consumer ? hooks.consumerActions : hooks.merchantActions)(current, actions);
    $("#c-kyc-card").hidden = consumer;
    if (!consumer) hooks.kyc(current, $("#c-kyc"));
    hooks.disputes(current, $("#c-disputes"));
  }

  // In the other language, what is shown is drawn again from what was read (not read again).
  document.addEventListener("saoma:lang", () => {
    if (!operator) return;
    who();
    if (results) renderResults(results);
    if (current && current.page && !$("#c-person").hidden) drawPerson();
  });

  document.addEventListener("DOMContentLoaded", start);

  /** Whether the signed-in role may do ``permission`` (saoma/operators/roles.py; the server checks). */
  function may(permission) {
    return Boolean(operator) && (PERMISSIONS[permission] || []).includes(operator.role);
  }

  return {
    hooks, withReason, askReason, may, renderPerson, facts, table,
    get operator() { return operator; }, get current() { return current; },
  };
})();
