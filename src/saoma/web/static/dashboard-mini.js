/* The dashboard's mini-programs: register one (names, icon, origin, scopes) and see whether an
   operator approved it. The icon file is sent as a data: URL; the server checks it again. */
"use strict";

Object.assign(DICT.en, {
  dm_title: "Mini-programs",
  dm_intro: "A service of yours inside the Saoma wallet. An operator approves it before payers see it.",
  dm_name: "Name", dm_name_zh: "Name in Chinese", dm_origin: "Served from (https origin)",
  dm_origin_rule: "Scheme and host only, no path: the wallet frames this origin and no other.",
  dm_icon: "Icon (PNG or SVG, 16 KB at most)", dm_scopes: "It may ask payers for",
  dm_scope_name: "Their name, masked", dm_scope_phone: "Their confirmed phone number",
  dm_register: "Register", dm_registered: "Registered: it waits for an operator's approval.",
  dm_pending: "waiting for approval", dm_approved: "approved", dm_none: "None yet.",
  dm_icon_missing: "Choose an icon.", dm_icon_big: "The icon is larger than 16 KB.",
  invalid_origin: "Give the origin as https://host (no path); plain http only for this machine in demo mode.",
  invalid_icon: "The icon must be a PNG or an SVG without scripts, 16 KB at most.",
  invalid_scopes: "Choose among the listed data only.",
});

Object.assign(DICT.zh, {
  dm_title: "小程序",
  dm_intro: "你在扫码钱包里的服务。运营人员批准后，顾客才能看到。",
  dm_name: "名称（英文）", dm_name_zh: "中文名称", dm_origin: "服务地址（https 源）",
  dm_origin_rule: "只填协议和主机，不含路径：钱包只会嵌入这个源。",
  dm_icon: "图标（PNG 或 SVG，最大 16 KB）", dm_scopes: "可向顾客申请",
  dm_scope_name: "姓名（部分隐藏）", dm_scope_phone: "已确认的手机号",
  dm_register: "注册", dm_registered: "已注册，等待运营人员批准。",
  dm_pending: "等待批准", dm_approved: "已批准", dm_none: "暂无。",
  dm_icon_missing: "请选择图标。", dm_icon_big: "图标超过 16 KB。",
  invalid_origin: "请按 https://主机 填写服务地址（不含路径）；仅演示模式下本机可用 http。",
  invalid_icon: "图标须为不含脚本的 PNG 或 SVG，最大 16 KB。",
  invalid_scopes: "只能选择列出的信息。",
});

(() => {
  const { t, api, guard, say, el, $ } = Saoma;
  const ICON_BYTES_MAX = 16 * 1024;

  async function load() {
    const mine = await api("GET", "/v1/merchant/mini-programs").catch(() => ({ data: [] }));
    $("#d-mini-list").replaceChildren(...(mine.data.length ? mine.data.map((mp) => el("li", {},
      el("img", { src: mp.icon, alt: "" }),
      el("strong", { text: Saoma.lang === "zh" ? mp.name_zh : mp.name }), " ",
      el("span", { class: "small muted", text: `${mp.origin} · ${t(mp.state === "approved" ? "dm_approved" : "dm_pending")}` })))
      : [el("li", { class: "muted", text: t("dm_none") })]));
  }

  function dataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  $("#d-mini-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = $("#dm-icon").files[0];
    if (!file) { say("#dm-out", t("dm_icon_missing"), "err"); return; }
    if (file.size > ICON_BYTES_MAX) { say("#dm-out", t("dm_icon_big"), "err"); return; }
    guard(ev.submitter, "#dm-out", async () => {
      const scopes = ["#dm-scope-name", "#dm-scope-phone"].filter((s) => $(s).checked).map((s) => $(s).value);
      await api("POST", "/v1/mini-programs", {
        name: $("#dm-name").value.trim(), name_zh: $("#dm-name-zh").value.trim(),
        origin: $("#dm-origin").value.trim(), icon: await dataUrl(file), scopes,
      });
      $("#d-mini-form").reset();
      say("#dm-out", t("dm_registered"), "ok");
      load();
    });
  });

  document.addEventListener("saoma:view", (ev) => { if (ev.detail === "d-main") load(); });
  document.addEventListener("saoma:lang", () => { if (!$("#d-main").hidden) load(); });
})();
