/* The chat connection shared by the staff widget and the rehearsal page: Rasa's socket.io with
 * the page's short-lived chat token (renewed through /api/chat-token), the conversation id, the
 * log (bubbles, quick replies, typing indicator, notices) and a composer that Chinese input
 * methods can use. What a page draws for the bot's rich payloads stays in that page's script.
 *
 * Text goes in through textContent only (SalesbotDom.el), never innerHTML.
 */
(function () {
  "use strict";
  var byId = window.SalesbotDom.byId;
  var el = window.SalesbotDom.el;

  var REPLY_TIMEOUT_MS = 30000;
  // The chat token lives 15 minutes: renew it (and reconnect with it) well before that.
  var TOKEN_REFRESH_MS = 10 * 60 * 1000;

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  /* options:
   *   log, input, form, status   the page's elements
   *   storageKey                 sessionStorage key that keeps the conversation id across reloads
   *                              (null: every page load starts a new conversation)
   *   emptyHint                  id of the hint that the first message removes
   *   typingText                 what the typing indicator says
   *   displayText(text)          what to show for a message the user sends (default: the text)
   *   onBotMessage(message)      one bot_uttered event (one reply: {text, quick_replies, custom},
   *                              each key only when set), after the typing indicator is gone
   *   onSessionConfirmed(id, restored)
   */
  function create(options) {
    var log = options.log;
    var input = options.input;
    var statusEl = options.status;
    var body = document.body;
    var cfg = {
      // Where the chat server is: an address from the web app, or empty for this page's own
      // origin (behind the entry point, which routes /socket.io to the Rasa servers).
      rasaUrl: body.getAttribute("data-rasa-url") || window.location.origin,
      token: body.getAttribute("data-chat-token") || ""
    };
    var socket = null;
    var sessionId = null;
    var awaiting = 0;          // session requests not yet confirmed
    var onConfirmed = null;    // newSession()'s callback, once its conversation is open
    var composing = false;
    var waitTimer = null;
    var typingEl = null;
    var tokenFetchedAt = Date.now();
    var tokenStale = false;      // the server said our token is no longer good
    var sessionEnded = false;    // logged out (here or elsewhere) or the account was disabled
    var refusedOnce = false;     // one retry with a fresh token after a refused handshake
    var reconnectWanted = false; // a renewed token waits for the reply in flight
    var reconnectTimer = null;
    var lastSent = null;         // the last message we sent, resent if the server refused it
    var resendText = null;

    function storedSession() {
      var s = options.storageKey ? storage() : null;
      return s ? s.getItem(options.storageKey) : null;
    }

    function storeSession(id) {
      var s = options.storageKey ? storage() : null;
      if (!s) { return; }
      if (id) { s.setItem(options.storageKey, id); } else { s.removeItem(options.storageKey); }
    }

    /* ---------- status, notices, the log ---------- */

    function setStatus(kind, text) {
      statusEl.className = "status " + kind;
      statusEl.textContent = text;
    }

    function appendToLog(node) {
      var hint = options.emptyHint ? byId(options.emptyHint) : null;
      if (hint) { hint.remove(); }
      if (typingEl && typingEl.parentNode === log) {
        log.insertBefore(node, typingEl);
      } else {
        log.appendChild(node);
      }
      log.scrollTop = log.scrollHeight;
    }

    function notice(text, kind) {
      var item = el("div", "notice " + (kind || "error"), text);
      item.setAttribute("role", kind === "info" ? "status" : "alert");
      appendToLog(item);
      return item;
    }

    function showTyping() {
      hideTyping();
      typingEl = el("div", "typing", options.typingText || "助手正在思考…");
      log.appendChild(typingEl);
      log.scrollTop = log.scrollHeight;
      clearTimeout(waitTimer);
      waitTimer = setTimeout(function () {
        hideTyping();
        notice("助手暂时没有回应，请稍后再试，或检查网络连接。");
      }, REPLY_TIMEOUT_MS);
    }

    function hideTyping() {
      clearTimeout(waitTimer);
      if (typingEl) { typingEl.remove(); typingEl = null; }
    }

    function renderUser(text) {
      var row = el("div", "msg user");
      row.appendChild(el("div", "bubble", text));
      appendToLog(row);
      return row;
    }

    function buttonRow(buttons) {
      var row = el("div", "quick-replies");
      row.setAttribute("role", "group");
      row.setAttribute("aria-label", "快捷回复");
      buttons.forEach(function (b) {
        if (!b || typeof b.payload !== "string") { return; }
        var title = b.title || b.payload;
        var btn = el("button", "btn chip", title);
        btn.type = "button";
        btn.addEventListener("click", function () { send(b.payload, title); });
        row.appendChild(btn);
      });
      return row;
    }

    function renderBotText(text, buttons) {
      var row = el("div", "msg bot");
      row.appendChild(el("div", "bubble", text));
      if (buttons && buttons.length) { row.appendChild(buttonRow(buttons)); }
      appendToLog(row);
      return row;
    }

    /* A reply drawn as a card (the page built it, with the reply's text where the card shows
       it), the reply's buttons beneath: one bubble for the whole reply. */
    function renderCard(card, buttons) {
      var row = el("div", "msg bot card-row");
      row.appendChild(card);
      if (buttons && buttons.length) { row.appendChild(buttonRow(buttons)); }
      appendToLog(row);
      return row;
    }

    /* ---------- the chat token ---------- */

    function endSession() {
      sessionEnded = true;
      hideTyping();
      setStatus("error", "登录已失效（可能已退出登录或账号已停用），请重新登录。");
      var item = notice("登录已失效，消息无法发送。");
      item.appendChild(document.createTextNode(" "));
      var link = el("a", null, "重新登录");
      link.href = "/";
      item.appendChild(link);
      if (socket) { socket.disconnect(); }
    }

    /* A fresh chat token from the web app (our session cookie); rejects if there is none. */
    function refreshToken() {
      return fetch("/api/chat-token", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 401) { endSession(); throw new Error("session ended"); }
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (data) {
          if (!data || !data.token) { throw new Error("no token"); }
          cfg.token = data.token;
          tokenFetchedAt = Date.now();
          tokenStale = false;
          return data.token;
        });
    }

    /* socket.io asks for credentials on every (re)connect: a fresh token if ours is old or refused. */
    function socketAuth(cb) {
      if (!tokenStale && Date.now() - tokenFetchedAt < TOKEN_REFRESH_MS) {
        cb({ token: cfg.token });
        return;
      }
      refreshToken().then(function (token) { cb({ token: token }); }, function () { cb({ token: cfg.token }); });
    }

    /* The server checks the token of the connection on every message: reconnect with the new one. */
    function reconnectWithFreshToken() {
      if (!socket || sessionEnded) { return; }
      if (typingEl) { reconnectWanted = true; return; }  // after the reply in flight
      reconnectWanted = false;
      socket.disconnect();
      socket.connect();
    }

    function renewToken() {
      if (sessionEnded) { return; }
      refreshToken().then(reconnectWithFreshToken, function (err) {
        if (window.console) { window.console.warn("chat token renewal failed", err && err.message); }
      });
    }

    /* ---------- socket.io ---------- */

    function requestSession(id) {
      awaiting += 1;
      socket.emit("session_request", { session_id: id || null });
    }

    function onBotMessage(message) {
      hideTyping();
      if (reconnectWanted) {  // renew the connection once this reply is complete (2 s of quiet)
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(reconnectWithFreshToken, 2000);
      }
      if (!message || typeof message !== "object") { return; }
      options.onBotMessage(message);
    }

    function affinityKey() {
      var bytes = new Uint8Array(8);
      window.crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }

    function connect() {
      if (typeof window.io !== "function") {
        setStatus("error", "无法加载聊天组件（socket.io），请刷新页面或联系管理员。");
        return;
      }
      if (!cfg.token) {
        setStatus("error", "缺少登录凭证，请重新登录。");
        return;
      }
      socket = window.io(cfg.rasaUrl, {
        path: "/socket.io",
        // Sent with every request of this connection: with several Rasa servers the entry point
        // hashes it to pick one, so all polls of a socket.io session reach the server holding it
        // (per page, not per client address: a whole office behind one NAT still spreads out).
        query: { affinity: affinityKey() },
        // HTTP long-polling only: the WebSocket transport of python-engineio under Rasa's
        // Sanic 21.12 fails its handshake ("Invalid frame header"), and a failed upgrade
        // attempt leaves the connection stuck. Polling is plenty for a chat.
        transports: ["polling"],
        upgrade: false,
        auth: socketAuth,
        reconnectionDelayMax: 10000
      });
      socket.on("connect", function () {
        refusedOnce = false;
        awaiting = 0;  // requests of an earlier connection are never answered
        setStatus("pending", "已连接，正在打开会话…");
        requestSession(sessionId || storedSession());
      });
      socket.on("session_confirm", function (data) {
        var id = typeof data === "string" ? data : (data && data.session_id);
        if (!id) { return; }
        awaiting = Math.max(0, awaiting - 1);
        var restored = storedSession() === id;
        sessionId = id;
        storeSession(id);
        setStatus("ok", "已连接");
        if (options.onSessionConfirmed) { options.onSessionConfirmed(id, restored); }
        if (awaiting === 0 && onConfirmed) {
          // Only once the latest request is answered: the server routes messages to that one.
          var then = onConfirmed;
          onConfirmed = null;
          then(id);
        }
        if (resendText) {
          // Refused only because the token had expired: send it again on the new connection.
          socket.emit("user_uttered", { message: resendText, session_id: sessionId });
          resendText = null;
          showTyping();
        }
      });
      socket.on("auth_error", function () {
        // Our token expired or was revoked; the server disconnects us next, and the reconnect
        // fetches a fresh token (or finds out that the login itself has ended).
        var waiting = !!typingEl;
        hideTyping();
        tokenStale = true;
        resendText = waiting && lastSent ? lastSent : null;
        setStatus("pending", "登录凭证已过期，正在更新…");
      });
      socket.on("session_error", function (data) {
        var text = (data && data.error) || "会话无法打开。";
        awaiting = Math.max(0, awaiting - 1);
        storeSession(null);
        sessionId = null;
        notice(text + " 已为您开始新的会话。");
        requestSession(null);
      });
      socket.on("connect_error", function (err) {
        if (sessionEnded) { return; }
        if (socket.active) {
          setStatus("error", "无法连接到对话服务器，正在重试…");
        } else if (!refusedOnce) {
          // Refused: perhaps only our token is too old. Try once more with a fresh one.
          refusedOnce = true;
          tokenStale = true;
          setStatus("pending", "正在更新登录凭证…");
          socket.connect();
        } else {
          // The server refused the handshake: our token is missing, forged or expired.
          setStatus("error", "对话服务器拒绝连接：登录凭证无效或已过期，请刷新页面或重新登录。");
        }
        if (window.console) { window.console.warn("socket.io connect_error", err && err.message); }
      });
      socket.on("disconnect", function (reason) {
        hideTyping();
        if (reason === "io client disconnect" || sessionEnded) { return; }
        setStatus("error", "与对话服务器的连接已断开，正在重新连接…");
        if (reason === "io server disconnect") { socket.connect(); }
      });
      socket.on("bot_uttered", onBotMessage);
    }

    /* Send ``text``; the user's bubble shows ``shown`` (default: displayText(text)), none if
       ``shown`` is false. False (and a notice) when there is no open conversation. */
    function send(text, shown) {
      text = (text || "").trim();
      if (!text) { return false; }
      if (!socket || !socket.connected || !sessionId) {
        notice("还没有连接到对话服务器，消息未发送。请稍候重试。");
        return false;
      }
      if (shown !== false) {
        renderUser(shown || (options.displayText ? options.displayText(text) : text));
      }
      lastSent = text;
      socket.emit("user_uttered", { message: text, session_id: sessionId });
      showTyping();
      return true;
    }

    /* A new conversation id (the log is cleared); ``then(id)`` once the server has opened it. */
    function newSession(then) {
      storeSession(null);
      sessionId = null;
      hideTyping();
      log.textContent = "";
      onConfirmed = then || null;
      if (socket && socket.connected) {
        setStatus("pending", "正在打开新会话…");
        requestSession(null);
      }
    }

    function submitComposer() {
      if (send(input.value)) {
        input.value = "";
      }
      input.focus();
    }

    options.form.addEventListener("submit", function (e) {
      e.preventDefault();
      submitComposer();
    });

    // Chinese input methods: Enter while composing picks a candidate, it must not send.
    input.addEventListener("compositionstart", function () { composing = true; });
    input.addEventListener("compositionend", function () {
      // Some browsers fire keydown(Enter) right after compositionend: let that one pass too.
      setTimeout(function () { composing = false; }, 0);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey) { return; }
      if (e.isComposing || composing || e.keyCode === 229) { return; }
      e.preventDefault();
      submitComposer();
    });

    connect();
    setInterval(renewToken, TOKEN_REFRESH_MS);

    return {
      send: send,
      newSession: newSession,
      notice: notice,
      renderUser: renderUser,
      renderBotText: renderBotText,
      renderCard: renderCard,
      sessionId: function () { return sessionId; }
    };
  }

  window.SalesbotChat = { create: create };
})();
