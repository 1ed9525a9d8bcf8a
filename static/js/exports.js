/* Exports: the snippet panel's copy button.
 * <button data-copy-target="element-id"> copies that element's text to the clipboard and confirms with a toast
 * (studio.js shows "toast" events). Loaded once even when several panels include it.
 * Pages include it in their body, not <head>: a boosted visit swaps only the body (htmx runs the scripts it
 * swaps in), so a <head> script of a page reached through a boosted link never runs. The listener is
 * delegated to the document, so buttons swapped in later (snippet code, boosted pages) need no set-up. */
(function () {
  "use strict";
  if (window.studioExportsLoaded) return;
  window.studioExportsLoaded = true;

  function notify(message, level) {
    document.dispatchEvent(new CustomEvent("toast", { detail: { message: message, level: level } }));
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (error) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var text = target.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
      notify("Copied the code to the clipboard.", "success");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (fallbackCopy(text)) done(); else notify("Copying failed; select the code and copy it by hand.", "error");
      });
    } else if (fallbackCopy(text)) {
      done();
    } else {
      notify("Copying failed; select the code and copy it by hand.", "error");
    }
  });
})();
