/* saoma-bridge.js: a mini-program's one way to the Saoma wallet that opened it (version 1).

   Include it from the Saoma server: <script src="https://<saoma>/static/saoma-bridge.js"></script>.
   It talks to the wallet with postMessage only: each request carries the version and a request
   id; an answer counts only if it comes from the wallet's origin (the origin this script was
   served from) and from the window that framed this page. Every call answers a promise of
   {ok: true, ...result} or {ok: false, error: "<slug>"}: it never rejects, never sees the PIN.

     SaomaBridge.login(["profile.masked_name"]) -> {ok, code}  (the server exchanges the code)
     SaomaBridge.requestPayment(orderId)        -> {ok}        (the wallet's own sheet and PIN)
     SaomaBridge.requestHold(holdId)            -> {ok}        (the same, for a deposit)
     SaomaBridge.requestMandate(mandateId)      -> {ok}        (the same: agree to recurring debits)
     SaomaBridge.scanCode()                     -> {ok, text}  (the wallet's scanner)
*/
(function () {
  "use strict";

  var VERSION = 1;
  var script = document.currentScript;
  var walletOrigin = script && script.src ? new URL(script.src).origin : "";
  var pending = {};
  var sent = 0;

  window.addEventListener("message", function (event) {
    if (event.origin !== walletOrigin || event.source !== window.parent) return;
    var m = event.data;
    if (!m || m.saoma !== "bridge" || m.v !== VERSION || !pending.hasOwnProperty(m.id)) return;
    var resolve = pending[m.id];
    delete pending[m.id];
    var result = { ok: m.ok === true };
    if (m.ok === true) {
      Object.keys(m.result || {}).forEach(function (k) { if (k !== "ok") result[k] = m.result[k]; });
    } else {
      result.error = String(m.error || "refused");
    }
    resolve(result);
  });

  function call(method, params) {
    if (window.parent === window || !walletOrigin) {
      return Promise.resolve({ ok: false, error: "not-in-wallet" });
    }
    sent += 1;
    var id = "r" + Date.now().toString(36) + "-" + sent;
    return new Promise(function (resolve) {
      pending[id] = resolve;
      window.parent.postMessage(
        { saoma: "bridge", v: VERSION, id: id, method: method, params: params }, walletOrigin);
    });
  }

  window.SaomaBridge = Object.freeze({
    version: VERSION,
    login: function (scopes) { return call("login", { scopes: scopes || [] }); },
    requestPayment: function (orderId) { return call("requestPayment", { order_id: String(orderId) }); },
    requestHold: function (holdId) { return call("requestHold", { hold_id: String(holdId) }); },
    requestMandate: function (mandateId) {
      return call("requestMandate", { mandate_id: String(mandateId) });
    },
    scanCode: function () { return call("scanCode", {}); },
  });
})();
