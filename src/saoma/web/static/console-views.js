/* The console-wide views, as tabs chosen by the operator's role (loaded after console-actions.js):
   disputes to decide (support, risk, admin), merchants to approve (risk, admin), the platform's
   books (finance, admin) and the audit log (admin). Each view loads when its tab is chosen. */
"use strict";

Object.assign(DICT.en, {
  c_tab_disputes: "Disputes to decide", c_tab_kyc: "Merchants to approve", c_tab_books: "Books", c_tab_audit: "Audit log",
  c_views: "Work queues", c_refresh: "Refresh", c_older: "Older entries",
  c_kyc_none: "No merchant is waiting.", c_payer_id: "Payer",
  c_books_fees: "Fee income", c_books_packets: "Red packets not yet claimed", c_books_breaks: "Open reconciliation breaks",
  c_books_campaigns: "Campaign spend", c_books_clearing: "Clearing and reserve accounts",
  c_funder: "Funder", c_campaign: "Campaign", c_spent: "Spent", c_budget: "Budget", c_budget_left: "Left",
  c_funder_platform: "Platform", c_funder_merchant: "Merchant",
  c_clearing_bank_clearing: "Bank clearing", c_clearing_settlement_clearing: "Settlement clearing",
  c_clearing_reserve: "Reserve", c_clearing_suspense: "Suspense", c_clearing_overdraft: "Overdraft",
  c_audit_at: "Time", c_audit_operator: "Operator", c_audit_role: "Role", c_audit_action: "Action",
  c_audit_subject: "Subject", c_audit_reason: "Reason", c_audit_address: "Address", c_audit_what: "What",
});
Object.assign(DICT.zh, {
  c_tab_disputes: "待裁决争议", c_tab_kyc: "待审核商户", c_tab_books: "平台账目", c_tab_audit: "审计日志",
  c_views: "工作队列", c_refresh: "刷新", c_older: "更早的记录",
  c_kyc_none: "没有等待审核的商户。", c_payer_id: "付款人",
  c_books_fees: "手续费收入", c_books_packets: "未领取的红包", c_books_breaks: "未解决的对账差异",
  c_books_campaigns: "营销活动支出", c_books_clearing: "清算与备付金账户",
  c_funder: "出资方", c_campaign: "活动", c_spent: "已支出", c_budget: "预算", c_budget_left: "剩余",
  c_funder_platform: "平台", c_funder_merchant: "商户",
  c_clearing_bank_clearing: "银行清算", c_clearing_settlement_clearing: "结算清算",
  c_clearing_reserve: "备付金", c_clearing_suspense: "挂账", c_clearing_overdraft: "透支",
  c_audit_at: "时间", c_audit_operator: "操作员", c_audit_role: "岗位", c_audit_action: "操作",
  c_audit_subject: "对象", c_audit_reason: "理由", c_audit_address: "地址", c_audit_what: "内容",
});

const SaomaConsoleViews = (() => {
  const { t, el, api, guard, money, when } = Saoma;
  const C = SaomaConsole;
  const TABS = [
    { id: "disputes", permission: "disputes.read", load: () => disputesToDecide(), draw: disputesView },
    { id: "kyc", permission: "kyc.read", load: () => api("GET", "/v1/ops/kyc?state=pending"), draw: kycView },
    { id: "books", permission: "books.read", load: () => api("GET", "/v1/ops/books"), draw: booksView },
    { id: "audit", permission: "audit.read", load: auditFirst, draw: auditView },
  ];
  let active = null;
  let shown = null; // what the active tab loaded: drawn again in the other language
  let panel = null;

  function label(prefix, value) {
    const key = prefix + value;
    return t(key) === key ? value : t(key);
  }

  function failed(err) {
    return el("p", { class: "notice err", role: "alert", text: Saoma.human(err) });
  }

  function head(keys) {
    return el("thead", {}, el("tr", {}, keys.map((k) => el("th", { text: k ? t(k) : "" }))));
  }

  async function disputesToDecide() {
    const [contested, escalated] = await Promise.all(["contested", "escalated"].map((s) => api("GET", "/v1/ops/disputes?state=" + s)));
    return [...contested.disputes, ...escalated.disputes].sort((a, b) => (a.updated_at < b.updated_at ? -1 : 1));
  }

  function disputesView(box, list) {
    box.replaceChildren(SaomaConsoleActions.disputeTable(list, (d) =>
      C.askReason("dispute", d.id, (reason) => SaomaConsoleActions.openDispute(d.id, reason, "c-main"))));
  }

  function kycView(box, { data }) {
    if (!data.length) { box.replaceChildren(el("p", { class: "muted", text: t("c_kyc_none") })); return; }
    box.replaceChildren(el("div", { class: "scroll" }, el("table", {}, head(["id", "c_legal_name", "c_submitted", ""]),
      el("tbody", {}, data.map((m) => el("tr", {},
        el("td", { class: "mono", text: m.merchant_id }), el("td", { text: m.legal_name }), el("td", { text: when(m.submitted_at) }),
        el("td", {}, el("button", { type: "button", class: "secondary", dataset: { id: m.merchant_id }, text: t("c_open"),
          onclick: () => C.askReason("merchant", m.merchant_id) }))))))));
  }

  function booksView(box, b) {
    const figure = (key, value, id) => el("div", { class: "card", id }, el("div", { class: "small muted", text: t(key) }),
      el("div", { class: "figure", text: value }));
    box.replaceChildren(
      el("div", { class: "cards" }, figure("c_books_fees", money(b.fees.income, b.currency), "c-bk-fees"),
        figure("c_books_packets", money(b.red_packets_outstanding, b.currency), "c-bk-packets"),
        figure("c_books_breaks", String(b.reconciliation_breaks_open), "c-bk-breaks")),
      el("h3", { text: t("c_books_campaigns") }),
      b.campaigns.length ? el("div", { class: "scroll" }, el("table", { id: "c-bk-campaigns" },
        head(["c_campaign", "c_funder", "state", "c_budget", "c_spent", "c_budget_left"]),
        el("tbody", {}, b.campaigns.map((c) => el("tr", {}, el("td", { text: c.name }), el("td", { text: label("c_funder_", c.funder) }),
          el("td", { text: c.state }), el("td", { class: "num", text: money(c.budget, b.currency) }),
          el("td", { class: "num", text: money(c.spent, b.currency) }), el("td", { class: "num", text: money(c.budget_left, b.currency) }))))))
        : el("p", { class: "muted", text: t("c_nothing") }),
      el("h3", { text: t("c_books_clearing") }),
      el("div", { id: "c-bk-clearing" }, C.facts(Object.entries(b.clearing).map(([k, v]) => ["c_clearing_" + k, money(v, b.currency)]))));
  }

  function auditRows(entries) {
    return entries.map((e) => el("tr", { class: "audit-entry" },
      el("td", { class: "nowrap", text: when(e.at) }),
      el("td", { title: e.operator_id, text: e.operator_login || e.operator_id }),
      el("td", { text: label("role_", e.role) }),
      el("td", { class: "mono", text: e.action }), el("td", {}, e.subject_kind ? `${e.subject_kind} ` : "",
        el("span", { class: "mono", text: e.subject_id })),
      el("td", { text: e.what }), el("td", { text: e.reason }), el("td", { class: "mono", text: e.address })));
  }

  /** The log's first page; "Older entries" adds the next ones to the same list. */
  async function auditFirst() {
    return api("GET", "/v1/ops/audit?limit=50");
  }

  function auditView(box, log) {
    const body = el("tbody", {}, auditRows(log.data));
    const more = el("button", { type: "button", class: "secondary", id: "c-audit-older", text: t("c_older"), hidden: !log.next_cursor });
    more.addEventListener("click", () => guard(more, null, async () => {
      const found = await api("GET", "/v1/ops/audit?limit=50&cursor=" + encodeURIComponent(log.next_cursor));
      log.data.push(...found.data);
      log.next_cursor = found.next_cursor;
      body.append(...auditRows(found.data));
      more.hidden = !log.next_cursor;
    }));
    // A wide table: its scrolling box takes the keyboard focus to scroll it.
    box.replaceChildren(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("c_tab_audit") },
      el("table", { id: "c-audit" }, head(["c_audit_at", "c_audit_operator", "c_audit_role", "c_audit_action",
        "c_audit_subject", "c_audit_what", "c_audit_reason", "c_audit_address"]), body)), more);
  }

  async function choose(tab) {
    active = tab;
    shown = null;
    for (const b of panel.tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab.id));
    panel.title.textContent = t("c_tab_" + tab.id);
    panel.body.replaceChildren();
    try {
      shown = await tab.load();
      tab.draw(panel.body, shown);
    } catch (err) {
      panel.body.replaceChildren(failed(err));
    }
  }

  function extra(who, box) {
    const mine = TABS.filter((tab) => C.may(tab.permission));
    box.replaceChildren();
    active = null;
    if (!mine.length) return;
    const tabs = el("div", { class: "row c-tabs", role: "group", "aria-label": t("c_views") },
      mine.map((tab) => el("button", { type: "button", class: "secondary", id: "c-tab-" + tab.id, dataset: { tab: tab.id },
        "aria-pressed": "false", text: t("c_tab_" + tab.id), onclick: () => choose(tab) })));
    const title = el("h2", { id: "c-view-title" });
    const body = el("div", { id: "c-view" });
    const refresh = el("button", { type: "button", class: "plain", id: "c-view-refresh", text: t("c_refresh"),
      onclick: (ev) => guard(ev.target, null, () => choose(active)) });
    panel = { tabs, title, body, refresh };
    box.append(tabs, el("div", { class: "card" }, el("div", { class: "row" }, title, refresh), body));
    panel.box = box;
    choose(mine[0]);
  }

  /** In the other language: the tabs and what the active one shows, without asking again. */
  function redraw() {
    if (!panel || !active || !panel.box.isConnected) return;
    const tab = active;
    const data = shown;
    relabel(tab);
    if (data) tab.draw(panel.body, data);
  }

  function relabel(tab) {
    for (const b of panel.tabs.querySelectorAll("button")) b.textContent = t("c_tab_" + b.dataset.tab);
    panel.tabs.setAttribute("aria-label", t("c_views"));
    panel.title.textContent = t("c_tab_" + tab.id);
    panel.refresh.textContent = t("c_refresh");
  }

  document.addEventListener("saoma:console-refresh", () => { if (active) choose(active); });
  document.addEventListener("saoma:lang", redraw);

  C.hooks.extra = extra;
  return { choose };
})();
