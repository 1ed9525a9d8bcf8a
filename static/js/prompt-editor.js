/* Prompt Studio — the prompt editor (prompts/templates/prompts/editor.html). No framework.
 *
 * The server renders the editor (messages, parts, variables, model) and stays the validator. This file:
 * - adds, removes and reorders messages and parts by cloning the <template data-template="..."> rows;
 * - detects {{ name }} variables as you type and keeps the Variables panel in step;
 * - uploads media by drag-and-drop or the file picker to the page's upload endpoint (prompts' asset
 *   service) and shows the server-rendered preview (thumbnail, audio player, PDF with page count);
 * - on submit serialises everything into the hidden `content` field as the neutral JSON document;
 *   a 400 answer (errors next to the parts, everything typed kept) is swapped in like a success;
 * - tracks unsaved changes (beforeunload and boosted navigation ask first); Ctrl/Cmd+S saves
 *   (studio.js clicks the [data-shortcut="mod+s"] button).
 * Loaded once; all listeners are delegated to the document, so swapped-in editors need no re-binding.
 */
(function () {
  "use strict";

  if (window.PromptEditor) return;

  var PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g;
  var MEDIA = ["image", "audio", "document"];
  var KIND_NAMES = { image: "an image", audio: "an audio file", document: "a PDF" };

  var baseline = null; // serialised state when the page loaded (null = unsaved from the start)

  function $(root, selector) {
    return root.querySelector(selector);
  }

  function $$(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  function editorOf(el) {
    return el && el.closest ? el.closest("[data-prompt-editor]") : null;
  }

  function currentEditor() {
    return document.querySelector("[data-prompt-editor]");
  }

  function isReadonly(form) {
    return form.hasAttribute("data-readonly");
  }

  function fromTemplate(form, name) {
    var tpl = form.querySelector('template[data-template="' + name + '"]');
    return tpl ? tpl.content.firstElementChild.cloneNode(true) : null;
  }

  function toast(message, level) {
    if (window.Studio && window.Studio.toast) window.Studio.toast(message, level);
  }

  // ---------------------------------------------------------------- serialise
  function field(root, name) {
    return $(root, '[data-field="' + name + '"]');
  }

  function partJSON(part) {
    var type = part.getAttribute("data-type");
    if (type === "text") return { type: "text", text: field(part, "text").value };
    var out = { type: type };
    var source = field(part, "source").value;
    var input = field(part, source);
    var value = input ? input.value.trim() : "";
    if (value) out[source] = value;
    if (type === "image") out.detail = field(part, "detail").value;
    return out;
  }

  function parseDefault(type, raw, problems, row) {
    if (raw === "") return undefined;
    if (type === "number") {
      var n = Number(raw);
      return raw.trim() !== "" && isFinite(n) ? n : raw; // the server names a non-number
    }
    if (type === "json") {
      try {
        return JSON.parse(raw);
      } catch (e) {
        problems.push({ row: row, message: "The default is not valid JSON (for text, use quotes: \"like this\")." });
        return undefined;
      }
    }
    return raw;
  }

  function numberOrRaw(raw, integer) {
    raw = raw.trim();
    if (raw === "") return undefined;
    var n = Number(raw);
    if (!isFinite(n)) return raw;
    if (integer && Math.floor(n) !== n) return raw;
    return n;
  }

  function serialise(form) {
    var problems = [];
    var messages = $$(form, "[data-messages] > [data-message]").map(function (message) {
      return {
        role: field(message, "role").value,
        content: $$(message, "[data-parts] > [data-part]").map(partJSON),
      };
    });
    var variables = $$(form, "[data-variables] > [data-variable]").map(function (row) {
      var type = field(row, "type").value;
      var out = { name: row.getAttribute("data-name"), type: type };
      var value = parseDefault(type, field(row, "default").value, problems, row);
      if (value !== undefined) out["default"] = value;
      var description = field(row, "description").value.trim();
      if (description) out.description = description;
      return out;
    });
    var model = {};
    var extra = $(form, "[data-model-extra]");
    if (extra && extra.value) {
      try {
        model = JSON.parse(extra.value) || {};
      } catch (e) {
        model = {};
      }
    }
    $$(form, "[data-model]").forEach(function (input) {
      var key = input.getAttribute("data-model");
      var value = input.hasAttribute("data-number") || input.hasAttribute("data-integer")
        ? numberOrRaw(input.value, input.hasAttribute("data-integer"))
        : input.value.trim() || undefined;
      if (value === undefined) delete model[key];
      else model[key] = value;
    });
    return { document: { messages: messages, variables: variables, model: model }, problems: problems };
  }

  function snapshot(form) {
    var state = serialise(form).document;
    var details = ["name", "description", "tags", "message"].map(function (name) {
      var input = form.elements.namedItem(name);
      return input ? input.value : "";
    });
    return JSON.stringify([state, details]);
  }

  // ---------------------------------------------------------------- unsaved changes
  function isDirty(form) {
    if (!form || isReadonly(form)) return false;
    return baseline === null || snapshot(form) !== baseline;
  }

  function updateDirty(form) {
    if (!form || isReadonly(form)) return;
    var dirty = isDirty(form);
    form.classList.toggle("is-dirty", dirty);
    var status = $(form, "[data-dirty-status]");
    if (status) status.textContent = dirty ? "Unsaved changes" : "No unsaved changes";
  }

  function markClean(form) {
    baseline = form ? snapshot(form) : null;
    if (form) form.classList.remove("is-dirty");
    window.PromptEditor.leaving = true;
  }

  window.addEventListener("beforeunload", function (event) {
    var form = currentEditor();
    if (window.PromptEditor.leaving || !isDirty(form)) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // Boosted links and forms elsewhere on the page would swap the editor away without beforeunload.
  document.addEventListener("htmx:confirm", function (event) {
    var form = currentEditor();
    var elt = event.detail.elt;
    if (!form || editorOf(elt) === form || !isDirty(form)) return;
    if (elt.closest && elt.closest("[data-confirm]")) return; // studio.js asks already
    event.preventDefault();
    var ask = window.Studio && window.Studio.confirm
      ? window.Studio.confirm({
          title: "Leave without saving?",
          message: "Your changes to this prompt are not saved yet and will be lost.",
          label: "Leave without saving",
        })
      : Promise.resolve(window.confirm("Leave without saving your changes?"));
    ask.then(function (ok) {
      if (!ok) return;
      baseline = snapshot(form);
      event.detail.issueRequest(true);
    });
  });

  // ---------------------------------------------------------------- variables
  function usedVariables(form) {
    var used = {};
    var order = [];
    function use(name, kind) {
      if (!(name in used)) order.push(name);
      if (!used[name] || used[name] === "text") used[name] = kind;
    }
    $$(form, "[data-messages] [data-part]").forEach(function (part) {
      var type = part.getAttribute("data-type");
      if (type === "text") {
        var text = field(part, "text").value;
        var match;
        PLACEHOLDER.lastIndex = 0;
        while ((match = PLACEHOLDER.exec(text))) use(match[1], "text");
      } else if (field(part, "source").value === "variable") {
        var name = field(part, "variable").value.trim();
        if (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) use(name, type);
      }
    });
    return { kinds: used, order: order };
  }

  function syncVariables(form) {
    if (isReadonly(form)) return;
    var list = $(form, "[data-variables]");
    if (!list) return;
    var used = usedVariables(form);
    var rows = {};
    $$(list, "[data-variable]").forEach(function (row) {
      rows[row.getAttribute("data-name")] = row;
    });
    used.order.forEach(function (name) {
      var row = rows[name];
      if (!row) {
        row = fromTemplate(form, "variable");
        if (!row) return;
        row.setAttribute("data-name", name);
        $(row, "[data-variable-name]").textContent = name;
        field(row, "type").setAttribute("aria-label", "Type of " + name);
        field(row, "default").setAttribute("aria-label", "Default value of " + name);
        field(row, "description").setAttribute("aria-label", "Description of " + name);
        list.appendChild(row);
        rows[name] = row;
      }
      var kind = used.kinds[name];
      if (MEDIA.indexOf(kind) >= 0) field(row, "type").value = kind;
    });
    Object.keys(rows).forEach(function (name) {
      var row = rows[name];
      var isUsed = name in used.kinds;
      var pristine = !field(row, "default").value && !field(row, "description").value;
      if (!isUsed && pristine) {
        row.remove();
        return;
      }
      row.classList.toggle("is-unused", !isUsed);
      var badge = $(row, "[data-unused]");
      if (badge) badge.hidden = isUsed;
      var remove = $(row, '[data-action="variable-remove"]');
      if (remove) remove.hidden = isUsed;
    });
    var count = $$(list, "[data-variable]").length;
    var counter = $(form, "[data-variable-count]");
    if (counter) counter.textContent = String(count);
    var empty = $(form, "[data-variables-empty]");
    if (empty) empty.hidden = count > 0;
    var datalist = document.getElementById("media-variables");
    if (datalist) {
      datalist.textContent = "";
      $$(list, "[data-variable]").forEach(function (row) {
        if (MEDIA.indexOf(field(row, "type").value) >= 0) {
          var option = document.createElement("option");
          option.value = row.getAttribute("data-name");
          datalist.appendChild(option);
        }
      });
    }
  }

  // ---------------------------------------------------------------- messages and parts
  function addPart(form, message, type) {
    var part = fromTemplate(form, "part-" + type);
    if (!part) return null;
    $(message, "[data-parts]").appendChild(part);
    return part;
  }

  function focusFirst(el) {
    var target = el && $(el, "textarea, input:not([type=hidden]):not([type=file]), select");
    if (target) target.focus();
  }

  function move(el, direction) {
    if (direction < 0 && el.previousElementSibling) el.parentNode.insertBefore(el, el.previousElementSibling);
    else if (direction > 0 && el.nextElementSibling) el.parentNode.insertBefore(el.nextElementSibling, el);
  }

  function hasContent(el) {
    return $$(el, "textarea, input[data-field]").some(function (input) {
      return input.value.trim() !== "";
    });
  }

  function changed(form) {
    syncVariables(form);
    updateDirty(form);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-message], [data-add-part], [data-action]");
    var form = editorOf(button);
    if (!button || !form || isReadonly(form)) return;

    if (button.hasAttribute("data-add-message")) {
      var message = fromTemplate(form, "message");
      var role = button.getAttribute("data-add-message");
      field(message, "role").value = role;
      message.className = message.className.replace(/message-\w+/, "message-" + role);
      $(form, "[data-messages]").appendChild(message);
      addPart(form, message, "text");
      focusFirst($(message, "[data-parts]"));
      changed(form);
      return;
    }
    if (button.hasAttribute("data-add-part")) {
      var part = addPart(form, button.closest("[data-message]"), button.getAttribute("data-add-part"));
      focusFirst(part);
      changed(form);
      return;
    }

    var action = button.getAttribute("data-action");
    var messageEl = button.closest("[data-message]");
    var partEl = button.closest("[data-part]");
    if (action === "message-up" || action === "message-down") {
      move(messageEl, action === "message-up" ? -1 : 1);
      button.focus();
    } else if (action === "part-up" || action === "part-down") {
      move(partEl, action === "part-up" ? -1 : 1);
      button.focus();
    } else if (action === "message-remove") {
      var removeMessage = function () {
        var next = messageEl.nextElementSibling || messageEl.previousElementSibling;
        messageEl.remove();
        if (next) focusFirst(next);
        changed(form);
      };
      if (hasContent(messageEl) && window.Studio && window.Studio.confirm) {
        window.Studio.confirm({
          title: "Remove this message?",
          message: "Its " + $$(messageEl, "[data-part]").length + " part(s) go with it. Nothing is saved until you save a version.",
          label: "Remove message",
        }).then(function (ok) {
          if (ok) removeMessage();
        });
      } else {
        removeMessage();
      }
      return;
    } else if (action === "part-remove") {
      partEl.remove();
    } else if (action === "variable-remove") {
      button.closest("[data-variable]").remove();
    } else {
      return;
    }
    changed(form);
  });

  document.addEventListener("change", function (event) {
    var form = editorOf(event.target);
    if (!form) return;
    var el = event.target;
    if (el.matches('[data-field="source"]')) {
      el.closest("[data-part]").setAttribute("data-source", el.value);
    } else if (el.matches('[data-field="role"]')) {
      var message = el.closest("[data-message]");
      message.className = message.className.replace(/message-\w+/, "message-" + el.value);
    } else if (el.matches("[data-file]")) {
      if (el.files && el.files[0]) upload(form, el.closest("[data-part]"), el.files[0]);
      el.value = "";
      return;
    }
    changed(form);
  });

  var syncTimer = null;
  document.addEventListener("input", function (event) {
    var form = editorOf(event.target);
    if (!form) return;
    window.clearTimeout(syncTimer);
    syncTimer = window.setTimeout(function () {
      changed(form);
    }, 150);
  });

  // ---------------------------------------------------------------- uploads
  function csrfToken(form) {
    var input = form.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setStatus(part, text, isError) {
    var status = $(part, "[data-upload-status]");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("is-error", !!isError);
  }

  function upload(form, part, file) {
    if (!part) return;
    var body = new FormData();
    body.append("file", file);
    body.append("workspace", form.getAttribute("data-workspace"));
    part.classList.add("is-uploading");
    setStatus(part, "Uploading " + file.name + "…", false);
    fetch(form.getAttribute("data-upload-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return { error: response.status === 413 ? "That file is too large." : "The upload failed (" + response.status + ")." };
          })
          .then(function (data) {
            return { ok: response.ok, data: data };
          });
      })
      .then(function (result) {
        part.classList.remove("is-uploading");
        if (!result.ok || result.data.error) {
          setStatus(part, result.data.error || "The upload failed.", true);
          toast(result.data.error || "The upload failed.", "error");
          return;
        }
        var data = result.data;
        var target = part;
        if (data.kind !== part.getAttribute("data-type")) {
          // A PDF dropped on an image part: the part becomes the kind of file it now holds.
          target = fromTemplate(form, "part-" + data.kind);
          if (!target) {
            setStatus(part, "That file can't go in this part.", true);
            return;
          }
          part.parentNode.replaceChild(target, part);
        }
        target.setAttribute("data-source", "asset");
        field(target, "source").value = "asset";
        field(target, "asset").value = data.id;
        $(target, "[data-preview]").innerHTML = data.html; // rendered (and escaped) by the server
        var dropText = $(target, "[data-drop-text]");
        if (dropText) dropText.textContent = "Replace: drop a file";
        setStatus(target, "", false);
        toast(data.message || "Uploaded.", "success");
        changed(form);
      })
      .catch(function () {
        part.classList.remove("is-uploading");
        setStatus(part, "Can't reach the server. Check your connection and try again.", true);
      });
  }

  function dropzoneOf(event) {
    var zone = event.target.closest ? event.target.closest("[data-dropzone]") : null;
    var form = editorOf(zone);
    return zone && form && !isReadonly(form) ? zone : null;
  }

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (!currentEditor()) return;
      event.preventDefault(); // no dropping files onto the page itself (the browser would open them)
      var zone = dropzoneOf(event);
      if (zone) {
        zone.classList.add("is-dragover");
        if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      } else if (event.dataTransfer) {
        event.dataTransfer.dropEffect = "none";
      }
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropzoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-dragover");
  });

  document.addEventListener("drop", function (event) {
    if (!currentEditor()) return;
    event.preventDefault();
    var zone = dropzoneOf(event);
    if (!zone) return;
    zone.classList.remove("is-dragover");
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) upload(editorOf(zone), zone.closest("[data-part]"), files[0]);
  });

  // ---------------------------------------------------------------- save
  // Capture phase: fill `content` before htmx (listening on the form) sends the request.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("[data-prompt-editor]")) return;
      $$(form, "[data-variable-error]").forEach(function (p) {
        p.hidden = true;
      });
      var result = serialise(form);
      if (result.problems.length) {
        event.preventDefault();
        event.stopPropagation();
        result.problems.forEach(function (problem) {
          var p = $(problem.row, "[data-variable-error]");
          p.textContent = problem.message;
          p.hidden = false;
        });
        field(result.problems[0].row, "default").focus();
        toast("Not saved: " + result.problems[0].message, "error");
        return;
      }
      $(form, "[data-content-field]").value = JSON.stringify(result.document);
    },
    true
  );

  // A 400 answer is the editor again with errors next to the parts: swap it in like a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.elt.matches || !event.detail.elt.matches("[data-prompt-editor]")) return;
    if (event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Saved: the server redirects to the saved prompt; don't ask about leaving.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var elt = event.detail.elt;
    if (elt.matches && elt.matches("[data-prompt-editor]") && event.detail.xhr.status < 400) markClean(elt);
  });

  // ---------------------------------------------------------------- lifecycle
  function init(root) {
    var form = root.matches && root.matches("[data-prompt-editor]") ? root : $(root, "[data-prompt-editor]");
    if (!form) return;
    window.PromptEditor.leaving = false;
    if (form.hasAttribute("data-unsaved")) {
      baseline = null; // the server showed back what was typed: it is not saved yet
      var error = $(form, ".has-error, .alert-error");
      if (error) {
        error.scrollIntoView({ block: "center" });
        var input = $(error, "textarea, input:not([type=hidden]):not([type=file]), select");
        if (input) input.focus({ preventScroll: true });
      }
    } else {
      baseline = snapshot(form);
    }
    updateDirty(form);
  }

  window.PromptEditor = { serialise: serialise, isDirty: isDirty, leaving: false };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (event) {
    init(event.target);
  });
})();
