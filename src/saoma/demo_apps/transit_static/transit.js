/* The pass's page: signing in and agreeing to the mandate go through the wallet's bridge; the
   pass's state is the mandate's, read by this service's server from Saoma. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let session = "";
  const yuan = (fen) => "¥" + (fen / 100).toFixed(2);
  const when = (iso) => new Date(iso).toLocaleString("en-GB", {
    timeZone: "Asia/Shanghai", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit",
  });
  const STATES = {
    waiting: "waiting for your agreement in the wallet", active: "active",
    cancelled: "cancelled", paused: "paused in your wallet", ended: "ended",
  };

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ session }, body || {})),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || "refused");
    return answer;
  }

  const say = (text) => { $("out").textContent = text; };

  function paidLine(p) {
    if (p.state === "ended") return p.ended_at ? `Ended on ${when(p.ended_at)}: the mandate was revoked in your wallet.` : "Ended.";
    if (p.paid_through) return `Paid through ${p.paid_through} (${p.months_paid} month${p.months_paid > 1 ? "s" : ""} paid).`;
    if (p.state === "active") return "Valid from today; the first month is debited a day after its notice.";
    return "";
  }

  function draw(p) {
    const has = p.state && p.state !== "none";
    $("choose").hidden = !session || (has && p.state !== "ended" && p.state !== "waiting");
    $("pass").hidden = !has;
    $("refresh").hidden = !session;
    $("cancel").hidden = p.state !== "active";
    if (!has) return;
    $("pass-name").textContent = `${p.name} · ${yuan(p.price)} a month`;
    $("pass-state").textContent = STATES[p.state] || p.state;
    $("paid").textContent = paidLine(p);
    $("renewal").textContent = p.next_renewal ? `Next renewal: ${yuan(p.price)} from ${when(p.next_renewal)}.` : "";
    $("notice").textContent = p.notice
      ? `Notice sent: ${yuan(p.notice.amount)} will be debited from ${when(p.notice.debit_from)}.` : "";
    const refused = p.last_refusal || p.refused;
    $("refused").hidden = !refused;
    $("refused").textContent = refused ? `The last debit was refused (${refused}).` : "";
  }

  const refresh = async () => draw(await post("/api/state"));

  $("sign-in").addEventListener("click", async () => {
    const agreed = await SaomaBridge.login(["profile.masked_name"]);
    if (!agreed.ok) { say(`Not signed in (${agreed.error}).`); return; }
    const signed = await post("/api/session", { code: agreed.code }).catch((e) => ({ error: e.message }));
    if (signed.error) { say(`Not signed in (${signed.error}).`); return; }
    session = signed.session;
    $("hello").textContent = `Hello, ${signed.name || "rider"}.`;
    $("sign-in").hidden = true;
    say("");
    await refresh();
  });

  $("choose").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const chosen = new FormData($("choose")).get("pass");
      const asked = await post("/api/subscribe", { pass: chosen });
      const agreed = await SaomaBridge.requestMandate(asked.mandate_id);
      if (!agreed.ok) { say(`Not subscribed (${agreed.error}).`); await refresh(); return; }
      await refresh();
      say("Subscribed: your pass is active.");
    } catch (err) { say(`Not subscribed (${err.message}).`); }
  });

  $("refresh").addEventListener("click", () => refresh().catch((err) => say(err.message)));

  $("cancel").addEventListener("click", async () => {
    try {
      draw(await post("/api/cancel"));
      say("Cancelled: we will send no further notice or debit. You can also revoke the mandate at any time in your wallet's Mandates screen; that stops every debit at once.");
    } catch (err) { say(`Not cancelled (${err.message}).`); }
  });

  $("sign-in").disabled = false; // ready: the page's buttons answer from now on
})();
