/* The dashboard's onboarding card: the state of the business details, the limit while they are
   not approved, the reason of a rejection, and the form to submit (or resubmit) them. The owner's
   ID number is never shown back: only its masked form, as the server sends it. */
"use strict";

window.SaomaOnboarding = (() => {
  const { t, money, api, guard, say, $ } = Saoma;
  let kyc = null;

  function draw() {
    if (!kyc) return;
    const limit = kyc.limit || { per_day: 0, taken_today: 0, currency: "CNY" };
    $("#d-kyc").dataset.state = kyc.state;
    $("#d-kyc-tag").textContent = t("kyc_tag_" + kyc.state);
    $("#d-kyc-state").textContent = t("kyc_state_" + kyc.state, {
      limit: money(limit.per_day, limit.currency),
      taken: money(limit.taken_today, limit.currency),
      reason: kyc.reason || "",
    });
    const onFile = $("#d-kyc-on-file");
    onFile.hidden = !kyc.owner_id;
    onFile.textContent = kyc.owner_id
      ? t("kyc_on_file", { name: kyc.legal_name, licence: kyc.licence_number, owner: kyc.owner_id }) : "";
    const open = kyc.state === "unverified" || kyc.state === "rejected";
    $("#d-kyc-form").hidden = !open;
    $("#d-kyc-submit").textContent = t(kyc.state === "rejected" ? "kyc_resubmit" : "kyc_submit");
    if (open && kyc.legal_name && !$("#d-kyc-name").value) {
      $("#d-kyc-name").value = kyc.legal_name;
      $("#d-kyc-licence").value = kyc.licence_number;
      $("#d-kyc-category").value = kyc.category;
    }
    if (kyc.state !== "pending") $("#d-kyc-done").hidden = true;
  }

  async function load() {
    kyc = await api("GET", "/v1/merchant/kyc");
    draw();
  }

  $("#d-kyc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      legal_name: $("#d-kyc-name").value.trim(),
      licence_number: $("#d-kyc-licence").value.trim().toUpperCase(),
      category: $("#d-kyc-category").value.trim(),
      owner_id_number: $("#d-kyc-owner").value.trim().toUpperCase(),
    };
    if (Object.values(body).some((v) => !v)) { say("#d-kyc-out", t("kyc_fill_all"), "err"); return; }
    guard(ev.submitter, "#d-kyc-out", async () => {
      kyc = await api("PUT", "/v1/merchant/kyc", body);
      $("#d-kyc-owner").value = "";  // the number is not kept on the page
      draw();
      say("#d-kyc-done", t("kyc_submitted"), "ok");
    });
  });

  document.addEventListener("saoma:lang", draw);

  return { start: () => load().catch(() => {}) };
})();
