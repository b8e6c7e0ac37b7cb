/* "Who looked at my data": the wallet's and the dashboard's view of the audit log about them.
   Each entry says when, which role (never which operator), what was looked at or done, and the
   reason the operator typed. Loaded after saoma.js on the wallet and the dashboard. */
"use strict";

Object.assign(DICT.en, {
  access_title: "Who looked at my data",
  access_intro: "Every time someone at Saoma looked at or acted on your data: when, their role, what and why. Nobody can remove an entry.",
  access_none: "Nobody has looked at your data.",
  access_when: "When", access_role: "Role", access_what: "What", access_reason: "Reason given",
  role_support: "Customer support", role_risk: "Risk team", role_finance: "Finance", role_admin: "Administrator",
  "action_consumer.view": "Looked at your wallet", "action_merchant.view": "Looked at your business",
  "action_consumer.freeze": "Froze your wallet", "action_consumer.unfreeze": "Unfroze your wallet",
  "action_merchant.freeze": "Froze your business", "action_merchant.unfreeze": "Unfroze your business",
  "action_kyc.view": "Looked at your business details", "action_kyc.approve": "Approved your business details",
  "action_kyc.reject": "Rejected your business details", "action_dispute.view": "Looked at a dispute", "action_disputes.view": "Looked at your disputes",
  "action_dispute.decide": "Decided a dispute",
});
Object.assign(DICT.zh, {
  access_title: "谁查看了我的数据",
  access_intro: "Saoma 工作人员每次查看或处理你的数据都会记录在这里：时间、岗位、内容和理由。任何人都无法删除记录。",
  access_none: "还没有人查看过你的数据。",
  access_when: "时间", access_role: "岗位", access_what: "内容", access_reason: "填写的理由",
  role_support: "客服", role_risk: "风控", role_finance: "财务", role_admin: "管理员",
  "action_consumer.view": "查看了你的钱包", "action_merchant.view": "查看了你的商户",
  "action_consumer.freeze": "冻结了你的钱包", "action_consumer.unfreeze": "解冻了你的钱包",
  "action_merchant.freeze": "冻结了你的商户", "action_merchant.unfreeze": "解冻了你的商户",
  "action_kyc.view": "查看了你的商户资料", "action_kyc.approve": "通过了你的商户资料",
  "action_kyc.reject": "驳回了你的商户资料", "action_dispute.view": "查看了一笔争议", "action_disputes.view": "查看了你的争议",
  "action_dispute.decide": "裁决了一笔争议",
});

const SaomaAccess = (() => {
  const { t, el, api, human, when } = Saoma;

  function label(prefix, value) {
    const key = prefix + value;
    return t(key) === key ? value : t(key);
  }

  /** The entries as a table in ``box`` (a wallet or a dashboard card). */
  function render(box, entries) {
    box.replaceChildren();
    if (!entries.length) {
      box.append(el("p", { class: "muted", text: t("access_none") }));
      return;
    }
    const rows = entries.map((e) => el("tr", { class: "access-entry" },
      el("td", { text: when(e.at) }),
      el("td", { class: "access-role", text: label("role_", e.role) }),
      el("td", {}, label("action_", e.action), el("br"), el("span", { class: "small muted", text: e.what })),
      el("td", { class: "access-reason", text: e.reason })));
    box.append(el("div", { class: "scroll" }, el("table", { class: "access" },
      el("thead", {}, el("tr", {},
        el("th", { text: t("access_when") }), el("th", { text: t("access_role") }),
        el("th", { text: t("access_what") }), el("th", { text: t("access_reason") }))),
      el("tbody", {}, rows))));
  }

  async function load(path, box) {
    try {
      render(box, (await api("GET", path)).entries);
    } catch (err) {
      box.replaceChildren(el("p", { class: "notice err", role: "alert", text: human(err) }));
    }
  }

  document.addEventListener("saoma:view", (ev) => {
    if (ev.detail === "v-access") load("/v1/me/access-log", document.getElementById("access-list"));
    if (ev.detail === "d-main") load("/v1/merchant/access-log", document.getElementById("d-access-list"));
  });

  return { render, load };
})();
