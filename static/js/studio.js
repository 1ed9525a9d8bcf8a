/* Prompt Studio — small page behaviour, no framework. Loaded with `defer` on every page.
 *
 * - Toasts: server messages rendered in #toasts auto-dismiss; `HX-Trigger: {"toast": {"message", "level"}}`
 *   shows a new one; failed HTMX requests show an error toast.
 * - Confirm modal: a form or submit button with data-confirm="what will be lost" (optional
 *   data-confirm-title, data-confirm-label) opens #confirm-dialog first, for HTMX and plain submits.
 * - data-autosubmit on a <select>/<input> submits its form on change.
 * - Menus (<details class="menu">) close on outside click and Escape.
 * - Keyboard hooks: Studio.onKey("mod+enter", handler) / Studio.onKey("mod+s", handler);
 *   a handler returns false to let the browser have the key.
 * Public: window.Studio = { toast, confirm, onKey }.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var TOAST_MS = { success: 4500, info: 4500, debug: 4500, warning: 8000, error: 10000 };

  // ------------------------------------------------------------------ toasts
  function toastRegion() {
    var region = document.getElementById("toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "toasts";
      region.className = "toasts";
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    return region;
  }

  function dismiss(el) {
    if (!el || el.classList.contains("is-leaving")) return;
    el.classList.add("is-leaving");
    window.setTimeout(function () {
      el.remove();
    }, 200);
  }

  function armToast(el) {
    if (el.dataset.armed) return;
    el.dataset.armed = "1";
    var level = el.dataset.level || "info";
    var ms = TOAST_MS[level] || 5000;
    var timer = window.setTimeout(function () {
      dismiss(el);
    }, ms);
    // Hovering or focusing keeps a toast readable.
    el.addEventListener("mouseenter", function () {
      window.clearTimeout(timer);
    });
    el.addEventListener("focusin", function () {
      window.clearTimeout(timer);
    });
    el.addEventListener("mouseleave", function () {
      timer = window.setTimeout(function () {
        dismiss(el);
      }, 2000);
    });
  }

  function toast(message, level) {
    level = level || "success";
    var el = document.createElement("div");
    el.className = "toast toast-" + level;
    el.dataset.level = level;
    el.setAttribute("role", level === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = String(message);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    el.appendChild(text);
    el.appendChild(close);
    toastRegion().appendChild(el);
    armToast(el);
    return el;
  }

  function armAll(root) {
    root = root || document;
    if (root.matches && root.matches(".toast")) armToast(root);
    if (root.querySelectorAll) root.querySelectorAll(".toast").forEach(armToast);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-toast-close]");
    if (button) dismiss(button.closest(".toast"));
  });

  // HX-Trigger: {"toast": {"message": "...", "level": "success"}}
  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    var message = detail.message || detail.value;
    if (message) toast(message, detail.level || "success");
  });

  var ERROR_TEXT = {
    400: "The request wasn't accepted. Check what you entered.",
    403: "You don't have permission to do that in this workspace.",
    404: "That no longer exists, or it's in a workspace you're not in.",
    405: "That action isn't available here.",
    409: "Someone changed this at the same time. Reload and try again.",
    413: "That file is too large.",
    429: "Too many requests. Wait a moment and try again.",
  };

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var status = xhr ? xhr.status : 0;
    var message = ERROR_TEXT[status] || (status >= 500 ? "The server hit an error. Try again in a moment." : "Request failed (" + status + ").");
    toast(message, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    toast("Can't reach the server. Check your connection and try again.", "error");
  });

  // ------------------------------------------------------------------ confirm modal
  var pending = null;

  function confirmDialog(options) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(options.message));
    }
    document.getElementById("confirm-title").textContent = options.title || "Are you sure?";
    document.getElementById("confirm-message").textContent = options.message || "";
    document.getElementById("confirm-ok").textContent = options.label || "Confirm";
    if (pending) pending(false);
    return new Promise(function (resolve) {
      pending = resolve;
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        function () {
          var ok = dialog.returnValue === "confirm";
          if (pending === resolve) pending = null;
          resolve(ok);
        },
        { once: true }
      );
      dialog.showModal();
    });
  }

  function confirmSource(elt, submitter) {
    if (submitter && submitter.hasAttribute("data-confirm")) return submitter;
    return elt && elt.closest ? elt.closest("[data-confirm]") : null;
  }

  function optionsFor(source) {
    return {
      message: source.getAttribute("data-confirm"),
      title: source.getAttribute("data-confirm-title"),
      label: source.getAttribute("data-confirm-label"),
    };
  }

  // HTMX requests (hx-post forms and boosted forms) ask first.
  document.addEventListener("htmx:confirm", function (event) {
    var trigger = event.detail.triggeringEvent;
    var source = confirmSource(event.detail.elt, trigger && trigger.submitter);
    if (!source) return;
    event.preventDefault();
    confirmDialog(optionsFor(source)).then(function (ok) {
      if (ok) event.detail.issueRequest(true);
    });
  });

  // Plain form submits (htmx not handling this form: it would have called preventDefault already).
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;
    var form = event.target;
    if (form.dataset.confirmed) {
      delete form.dataset.confirmed;
      return;
    }
    var source = confirmSource(form, event.submitter);
    if (!source) return;
    event.preventDefault();
    var submitter = event.submitter;
    confirmDialog(optionsFor(source)).then(function (ok) {
      if (!ok) return;
      form.dataset.confirmed = "1";
      if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
      else form.submit();
    });
  });

  // ------------------------------------------------------------------ small helpers
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (typeof el.form.requestSubmit === "function") el.form.requestSubmit();
      else el.form.submit();
    }
  });

  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.menu"));
  });

  // ------------------------------------------------------------------ keyboard hooks
  var keyHandlers = {};

  function comboOf(event) {
    var parts = [];
    if (event.ctrlKey || event.metaKey) parts.push("mod");
    if (event.altKey) parts.push("alt");
    if (event.shiftKey) parts.push("shift");
    parts.push(String(event.key).toLowerCase());
    return parts.join("+");
  }

  function onKey(combo, handler) {
    combo = combo.toLowerCase();
    (keyHandlers[combo] = keyHandlers[combo] || []).push(handler);
    return function off() {
      keyHandlers[combo] = (keyHandlers[combo] || []).filter(function (h) {
        return h !== handler;
      });
    };
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector("details.menu[open]");
      if (open) {
        open.removeAttribute("open");
        var summary = open.querySelector("summary");
        if (summary) summary.focus();
      }
    }
    var handlers = keyHandlers[comboOf(event)];
    if (!handlers || !handlers.length) return;
    for (var i = handlers.length - 1; i >= 0; i--) {
      if (handlers[i](event) !== false) {
        event.preventDefault();
        return;
      }
    }
  });

  // Page-specific elements can declare a shortcut: <button data-shortcut="mod+enter">Run</button>
  onKey("mod+enter", function () {
    return clickShortcut("mod+enter");
  });
  onKey("mod+s", function () {
    return clickShortcut("mod+s");
  });

  function clickShortcut(combo) {
    var target = document.querySelector('[data-shortcut="' + combo + '"]');
    if (!target) return false;
    target.click();
    return true;
  }

  // ------------------------------------------------------------------ lifecycle
  function init(root) {
    armAll(root);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }

  // Boosted navigation swaps the body: arm its server-rendered toasts and close stale menus.
  document.addEventListener("htmx:load", function (event) {
    init(event.target);
  });
  document.addEventListener("htmx:beforeSwap", function () {
    closeMenus(null);
  });

  // ---- boosted navigation: page stylesheets (issue 8 journeys) -----------------------------------
  // A boosted page swaps only the <body>, so a stylesheet the new page links in its <head> (exports,
  // templates, analytics) was never loaded when the page was reached from the sidebar. Add the
  // missing ones before the swap; stylesheets already on the page are left alone.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.boosted || !detail.xhr || typeof detail.serverResponse !== "string") return;
    var head = detail.serverResponse.split(/<\/head>/i)[0];
    if (head === detail.serverResponse) return;
    var doc = new DOMParser().parseFromString(head + "</head><body></body>", "text/html");
    var loaded = {};
    document.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
      loaded[link.href] = true;
    });
    doc.querySelectorAll('head link[rel="stylesheet"][href]').forEach(function (link) {
      var href = new URL(link.getAttribute("href"), document.baseURI).href;
      if (loaded[href]) return;
      var sheet = document.createElement("link");
      sheet.rel = "stylesheet";
      sheet.href = href;
      document.head.appendChild(sheet);
    });
  });

  window.Studio = { toast: toast, confirm: confirmDialog, onKey: onKey };
})();
