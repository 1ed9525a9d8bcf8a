/* Prompt Studio — the playground (providers/templates/providers/playground.html). No framework.
 *
 * - Targets: add (up to data-max-targets) and remove rows cloned from <template data-target-template>;
 *   the key picker shows only when the chosen provider has more than one key.
 * - Draft: "Edit as draft" swaps the version preview for the small editor; {{ name }} placeholders
 *   typed there add text variable fields (typed values are kept when a name disappears and comes back).
 * - Uploads: image/audio/PDF files for media variables and the draft's image go to the page's upload
 *   endpoint (prompts' asset service); the answer's asset id becomes the value.
 * - Estimate: after a pause in typing, the page's estimate endpoint prices each target (labelled
 *   "Estimate").
 * - Run (button, Ctrl/Cmd+Enter via studio.js's data-shortcut): POST JSON with the CSRF header to
 *   data-stream-url and read the Server-Sent Events with fetch streaming. Each target gets a card
 *   that fills as `delta` events arrive, then shows tokens, cost, latency and TTFT (`done`) or the
 *   provider's error (`error`). Stop aborts (the server records the runs as cancelled), Re-run sends
 *   the same request again, Copy output copies a card's text.
 * - Save draft as new version: POST JSON to data-save-url, then a toast.
 * Loaded once; listeners are delegated to the document so swapped-in parts need no re-binding.
 */
(function () {
  "use strict";

  if (window.Playground) return;

  var ESTIMATE_DELAY = 450;
  var PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g;

  var current = null; // {controller, cards, body}
  var lastBody = null;
  var estimateTimer = null;
  var estimateSeq = 0;

  function $(root, selector) {
    return root.querySelector(selector);
  }

  function $$(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  function form() {
    return document.querySelector("[data-playground]");
  }

  function toast(message, level) {
    if (window.Studio && window.Studio.toast) window.Studio.toast(message, level);
  }

  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (e) {
      /* fall back to the cookie */
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function postJSON(url, body, signal) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "X-CSRFToken": csrfToken(),
        "X-Requested-With": "fetch",
      },
      body: JSON.stringify(body),
      signal: signal,
    });
  }

  function errorText(response, payload) {
    if (payload && payload.detail) return payload.detail;
    if (response.status === 403) return "Your role in this workspace can't do that (running needs editor or higher).";
    if (response.status === 404) return "That prompt no longer exists, or it's in a workspace you're not in.";
    if (response.status >= 500) return "The server hit an error. Try again in a moment.";
    return "The request failed (" + response.status + ").";
  }

  function readError(response) {
    return response
      .json()
      .catch(function () {
        return null;
      })
      .then(function (payload) {
        return errorText(response, payload);
      });
  }

  // ---------------------------------------------------------------- reading the form
  function isDraft(root) {
    var toggle = $(root, "[data-draft-toggle]");
    if (toggle) return toggle.checked;
    var editor = $(root, "[data-draft-editor]");
    return !!editor && !editor.hidden;
  }

  function variableValue(field) {
    var input = $(field, "[data-variable-value]");
    if (!input) return null;
    var type = field.getAttribute("data-type");
    var raw = input.value;
    if (["image", "audio", "document"].indexOf(type) >= 0) return raw ? { asset: raw } : null;
    if (type === "number") {
      if (raw.trim() === "") return null;
      var n = Number(raw);
      return isNaN(n) ? raw : n;
    }
    if (type === "json") {
      if (raw.trim() === "") return null;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return raw;
      }
    }
    return raw;
  }

  function targetsOf(root) {
    return $$(root, "[data-target]").map(function (row) {
      return {
        model: $(row, "[data-target-model]").value,
        temperature: $(row, "[data-target-temperature]").value,
        max_tokens: $(row, "[data-target-max-tokens]").value,
        credential: $(row, "[data-target-credential]").value || null,
      };
    });
  }

  function collect(root) {
    var variables = {};
    $$(root, "[data-variable]").forEach(function (field) {
      if (field.hidden) return;
      var name = field.getAttribute("data-variable");
      if (!name) return;
      var value = variableValue(field);
      if (value !== null) variables[name] = value;
    });
    var body = {
      workspace: root.getAttribute("data-workspace"),
      prompt: ($(root, "[data-prompt-id]") || {}).value || null,
      version: ($(root, "[data-version-value]") || {}).value || "",
      variables: variables,
      targets: targetsOf(root),
    };
    if (isDraft(root)) {
      body.draft = {
        system: $(root, "[data-draft-system]").value,
        user: $(root, "[data-draft-user]").value,
        image: ($(root, "[data-draft-image]") || {}).value || null,
      };
    }
    return body;
  }

  // ---------------------------------------------------------------- targets
  function syncTargets(root) {
    var rows = $$(root, "[data-target]");
    var max = parseInt(root.getAttribute("data-max-targets") || "4", 10);
    var add = $(root, "[data-add-target]");
    if (add) add.disabled = rows.length >= max || root.hasAttribute("data-readonly");
    rows.forEach(function (row) {
      var remove = $(row, "[data-remove-target]");
      if (remove) remove.hidden = rows.length <= 1;
      var model = $(row, "[data-target-model]");
      var option = model.options[model.selectedIndex];
      var provider = option ? option.getAttribute("data-provider") : "";
      var keySelect = $(row, "[data-target-credential]");
      var count = 0;
      Array.prototype.forEach.call(keySelect.options, function (opt) {
        var p = opt.getAttribute("data-provider");
        if (!p) return;
        var match = p === provider;
        opt.hidden = !match;
        opt.disabled = !match;
        if (match) count++;
        if (!match && opt.selected) keySelect.value = "";
      });
      $(row, "[data-target-key-field]").hidden = count < 2;
    });
  }

  function addTarget(root) {
    var tpl = $(root, "template[data-target-template]");
    var list = $(root, "[data-target-list]");
    var rows = $$(root, "[data-target]");
    var max = parseInt(root.getAttribute("data-max-targets") || "4", 10);
    if (!tpl || rows.length >= max) return;
    var row = tpl.content.firstElementChild.cloneNode(true);
    // Start from the previous row's settings, with the next available model picked.
    var last = rows[rows.length - 1];
    if (last) {
      var prev = $(last, "[data-target-model]");
      var select = $(row, "[data-target-model]");
      var options = Array.prototype.filter.call(select.options, function (o) {
        return !o.disabled;
      });
      var index = options.findIndex(function (o) {
        return o.value === prev.value;
      });
      var next = options[(index + 1) % options.length];
      if (next) select.value = next.value;
      $(row, "[data-target-temperature]").value = $(last, "[data-target-temperature]").value;
      $(row, "[data-target-max-tokens]").value = $(last, "[data-target-max-tokens]").value;
    }
    list.appendChild(row);
    syncTargets(root);
    $(row, "[data-target-model]").focus();
    scheduleEstimate(root);
  }

  // ---------------------------------------------------------------- draft and variables
  function draftNames(root) {
    var names = [];
    var editor = $(root, "[data-draft-editor]");
    if (!editor) return names;
    (editor.getAttribute("data-fixed-variables") || "").split(",").forEach(function (n) {
      if (n && names.indexOf(n) < 0) names.push(n);
    });
    ["[data-draft-system]", "[data-draft-user]"].forEach(function (sel) {
      var text = ($(editor, sel) || {}).value || "";
      var m;
      PLACEHOLDER.lastIndex = 0;
      while ((m = PLACEHOLDER.exec(text))) {
        if (names.indexOf(m[1]) < 0) names.push(m[1]);
      }
    });
    return names;
  }

  function syncVariables(root) {
    var list = $(root, "[data-variable-list]");
    if (!list) return;
    var fields = $$(list, "[data-variable]");
    var draft = isDraft(root);
    var visible = 0;
    if (!draft) {
      fields.forEach(function (f) {
        f.hidden = !f.hasAttribute("data-declared");
        if (!f.hidden) visible++;
      });
    } else {
      var names = draftNames(root);
      var byName = {};
      fields.forEach(function (f) {
        byName[f.getAttribute("data-variable")] = f;
      });
      names.forEach(function (name) {
        if (byName[name]) return;
        var tpl = $(root, "template[data-variable-template]");
        if (!tpl) return;
        var field = tpl.content.firstElementChild.cloneNode(true);
        field.setAttribute("data-variable", name);
        var id = "pg-var-draft-" + name;
        $(field, "[data-variable-label]").textContent = name;
        $(field, "[data-variable-label]").setAttribute("for", id);
        $(field, "[data-variable-value]").id = id;
        list.appendChild(field);
        byName[name] = field;
      });
      Object.keys(byName).forEach(function (name) {
        byName[name].hidden = names.indexOf(name) < 0;
        if (!byName[name].hidden) visible++;
      });
    }
    var none = $(root, "[data-no-variables]");
    if (none) none.hidden = visible > 0;
  }

  function setDraft(root, on) {
    var editor = $(root, "[data-draft-editor]");
    var preview = $(root, "[data-version-preview]");
    if (editor) editor.hidden = !on;
    if (preview) preview.hidden = on;
    syncVariables(root);
    scheduleEstimate(root);
  }

  // ---------------------------------------------------------------- uploads
  function upload(root, input) {
    var box = input.closest("[data-upload]");
    var file = input.files && input.files[0];
    if (!box || !file) return;
    var data = new FormData();
    data.append("file", file);
    data.append("kind", box.getAttribute("data-kind") || "");
    data.append("workspace", root.getAttribute("data-workspace"));
    var promptId = ($(root, "[data-prompt-id]") || {}).value;
    if (promptId) data.append("prompt", promptId);
    var preview = $(box, "[data-upload-preview]");
    preview.textContent = "Uploading " + file.name + "…";
    fetch(root.getAttribute("data-upload-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
      body: data,
    })
      .then(function (response) {
        if (!response.ok) return readError(response).then(Promise.reject.bind(Promise));
        return response.json();
      })
      .then(function (asset) {
        $(box, "[data-asset-value]").value = asset.id;
        preview.textContent = "";
        if (asset.kind === "image") {
          var img = document.createElement("img");
          img.className = "pg-thumb";
          img.src = asset.thumbnail;
          img.alt = asset.name;
          preview.appendChild(img);
        } else if (asset.kind === "audio") {
          var audio = document.createElement("audio");
          audio.controls = true;
          audio.src = asset.url;
          preview.appendChild(audio);
        }
        var name = document.createElement("span");
        name.className = "small";
        name.textContent = asset.name;
        preview.appendChild(name);
        var clear = document.createElement("button");
        clear.type = "button";
        clear.className = "btn btn-ghost btn-small";
        clear.setAttribute("data-upload-clear", "");
        clear.textContent = "Remove";
        preview.appendChild(clear);
        scheduleEstimate(root);
      })
      .catch(function (message) {
        preview.textContent = "";
        var error = document.createElement("p");
        error.className = "field-error";
        error.textContent = typeof message === "string" ? message : "The upload failed. Try again.";
        preview.appendChild(error);
      })
      .finally(function () {
        input.value = "";
      });
  }

  // ---------------------------------------------------------------- estimate
  function formatCost(value) {
    var n = Number(value);
    if (!isFinite(n)) return String(value);
    if (n === 0) return "$0";
    if (n < 0.0001) return "<$0.0001";
    return "$" + n.toFixed(n < 0.01 ? 5 : 4).replace(/0+$/, "").replace(/\.$/, "");
  }

  function scheduleEstimate(root) {
    window.clearTimeout(estimateTimer);
    estimateTimer = window.setTimeout(function () {
      estimate(root);
    }, ESTIMATE_DELAY);
  }

  function estimate(root) {
    if (!root.isConnected) return;
    var seq = ++estimateSeq;
    var lines = $$(root, "[data-target] [data-estimate]");
    postJSON(root.getAttribute("data-estimate-url"), collect(root))
      .then(function (response) {
        if (seq !== estimateSeq) return;
        if (!response.ok) {
          return readError(response).then(function (text) {
            lines.forEach(function (line) {
              line.textContent = "Estimate unavailable: " + text;
            });
          });
        }
        return response.json().then(function (data) {
          if (data.error) {
            lines.forEach(function (line) {
              line.textContent = "Estimate unavailable: " + data.error;
            });
            return;
          }
          (data.estimates || []).forEach(function (e) {
            var line = lines[e.index];
            if (!line) return;
            if (e.error) {
              line.textContent = "Estimate unavailable: " + e.error;
              return;
            }
            line.textContent =
              "Estimate: ~" + e.input_tokens + " tokens in, up to " + e.output_tokens + " out ≈ " + formatCost(e.cost);
            line.title = e.note || "";
          });
        });
      })
      .catch(function () {
        /* an estimate is optional; the run reports real problems */
      });
  }

  // ---------------------------------------------------------------- cards
  function cardFor(root, target, index) {
    var tpl = $(root, "template[data-card-template]");
    var card = tpl.content.firstElementChild.cloneNode(true);
    var row = $$(root, "[data-target]")[index];
    var model = row ? $(row, "[data-target-model]") : null;
    var option = model ? model.options[model.selectedIndex] : null;
    var group = option && option.parentElement ? option.parentElement.getAttribute("label") : "";
    $(card, "[data-card-title]").textContent = (option ? option.textContent : target.model) + "";
    var params = [group ? group.split(" · ")[0] : ""];
    if (target.temperature !== "") params.push("temperature " + target.temperature);
    if (target.max_tokens !== "") params.push("max " + target.max_tokens + " tokens");
    $(card, "[data-card-params]").textContent = params.filter(Boolean).join(" · ");
    card.setAttribute("data-index", String(index));
    card.setAttribute("data-state", "queued");
    return card;
  }

  function setStatus(card, state, text) {
    var badge = $(card, "[data-card-status]");
    var cls = { queued: "queued", waiting: "queued", streaming: "running", done: "ok", error: "error", cancelled: "cancelled" };
    badge.className = "badge badge-status-" + (cls[state] || "queued");
    badge.textContent = text || state;
    card.setAttribute("data-state", state);
  }

  function fmtInt(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  }

  function fmtMs(n) {
    if (n === null || n === undefined) return "—";
    return n >= 1000 ? (n / 1000).toFixed(2) + " s" : n + " ms";
  }

  function showMetrics(card, run) {
    var metrics = $(card, "[data-card-metrics]");
    var values = {
      input_tokens: fmtInt(run.input_tokens),
      output_tokens: fmtInt(run.output_tokens),
      cached_tokens: fmtInt(run.cached_tokens),
      cost: formatCost(run.cost),
      latency_ms: fmtMs(run.latency_ms),
      ttft_ms: fmtMs(run.ttft_ms),
    };
    Object.keys(values).forEach(function (key) {
      var dd = $(metrics, '[data-metric="' + key + '"]');
      if (dd) dd.textContent = values[key];
    });
    metrics.hidden = false;
    var notes = [];
    if (run.usage_estimated) notes.push("Token counts are estimated (the provider sent no usage).");
    (run.warnings || []).forEach(function (w) {
      notes.push(w);
    });
    var note = $(card, "[data-card-note]");
    note.textContent = notes.join(" ");
    note.hidden = !notes.length;
  }

  function showError(card, run) {
    var box = $(card, "[data-card-error]");
    var text = run.error_message || "The call failed.";
    if (run.retry_after && !/retry after/i.test(text)) text += " Retry after " + Math.ceil(run.retry_after) + " s.";
    box.textContent = text;
    box.hidden = false;
  }

  function finishCard(card, run, state) {
    var output = $(card, "[data-card-output]");
    if (run && typeof run.output === "string" && run.output.length >= output.textContent.length) {
      output.textContent = run.output;
    }
    if (state === "done") {
      setStatus(card, "done", "done");
    } else {
      var cancelled = run && run.error_kind === "cancelled";
      setStatus(card, cancelled ? "cancelled" : "error", cancelled ? "cancelled" : "error");
      if (run) showError(card, run);
    }
    if (run) showMetrics(card, run);
    $(card, "[data-copy]").disabled = !output.textContent;
  }

  // ---------------------------------------------------------------- running
  function setBusy(root, busy) {
    $$(document, "[data-run]").forEach(function (b) {
      b.disabled = busy;
      b.classList.toggle("is-busy", busy);
    });
    var stop = $(root, "[data-stop]");
    if (stop) stop.hidden = !busy;
    var rerun = $(root, "[data-rerun]");
    if (rerun) rerun.hidden = busy || !lastBody;
  }

  function summary(root, text) {
    var el = $(root, "[data-run-summary]");
    if (el) el.textContent = text;
  }

  function runError(root, text) {
    var box = $(root, "[data-run-error]");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function handleEvent(state, name, data) {
    var card = state.cards[data.index];
    if (name === "run" && card) {
      setStatus(card, "waiting", "waiting");
      card.setAttribute("data-run-id", data.run_id);
    } else if (name === "delta" && card) {
      if (card.getAttribute("data-state") !== "streaming") setStatus(card, "streaming", "streaming");
      var output = $(card, "[data-card-output]");
      output.textContent += data.text;
      $(card, "[data-copy]").disabled = false;
    } else if (name === "done" && card) {
      finishCard(card, data.run, "done");
    } else if (name === "error" && card) {
      finishCard(card, data.run, "error");
    } else if (name === "end") {
      state.ended = true;
    }
  }

  function parseFrame(frame) {
    var name = "message";
    var data = [];
    frame.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try {
      return { name: name, data: JSON.parse(data.join("\n")) };
    } catch (e) {
      return null;
    }
  }

  function run(root, body) {
    if (root.hasAttribute("data-readonly")) return;
    if (current) current.controller.abort();
    body = body || collect(root);
    lastBody = body;
    runError(root, "");
    var cardsBox = $(root, "[data-cards]");
    cardsBox.textContent = "";
    var empty = $(root, "[data-results-empty]");
    if (empty) empty.hidden = true;
    var state = { controller: new AbortController(), cards: [], ended: false };
    body.targets.forEach(function (target, index) {
      var card = cardFor(root, target, index);
      state.cards.push(card);
      cardsBox.appendChild(card);
    });
    cardsBox.setAttribute("data-count", String(state.cards.length));
    current = state;
    setBusy(root, true);
    summary(root, "Running " + state.cards.length + " target" + (state.cards.length === 1 ? "" : "s") + "…");

    postJSON(root.getAttribute("data-stream-url"), body, state.controller.signal)
      .then(function (response) {
        if (!response.ok || !response.body) {
          return readError(response).then(function (text) {
            throw new Error(text);
          });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
            var at;
            while ((at = buffer.indexOf("\n\n")) >= 0) {
              var event = parseFrame(buffer.slice(0, at));
              buffer = buffer.slice(at + 2);
              if (event) handleEvent(state, event.name, event.data);
            }
            return pump();
          });
        }
        return pump();
      })
      .then(function () {
        finishRun(root, state, state.ended ? "" : "The connection closed before every answer was complete.");
      })
      .catch(function (error) {
        if (state.controller.signal.aborted) {
          finishRun(root, state, "", true);
          return;
        }
        var text = error && error.message && error.message !== "Failed to fetch" ? error.message : "Can't reach the server. Check your connection and try again.";
        state.cards.forEach(function (card) {
          card.remove();
        });
        state.cards = [];
        if (empty) empty.hidden = false;
        runError(root, text);
        finishRun(root, state, "");
      });
  }

  function finishRun(root, state, problem, stopped) {
    state.cards.forEach(function (card) {
      var s = card.getAttribute("data-state");
      if (s === "done" || s === "error" || s === "cancelled") return;
      setStatus(card, stopped ? "cancelled" : "error", stopped ? "stopped" : "error");
      if (!stopped) {
        var box = $(card, "[data-card-error]");
        box.textContent = problem || "No answer arrived.";
        box.hidden = false;
      }
    });
    if (current === state) current = null;
    setBusy(root, false);
    var done = state.cards.filter(function (c) {
      return c.getAttribute("data-state") === "done";
    }).length;
    var total = state.cards.length;
    if (!total) summary(root, "");
    else if (stopped) summary(root, "Stopped.");
    else summary(root, done + " of " + total + " finished" + (done < total ? " · " + (total - done) + " failed" : "") + ".");
  }

  // ---------------------------------------------------------------- save draft
  function saveDraft(root, button) {
    var body = collect(root);
    if (!body.draft) {
      toast("Tick “Edit as draft” first.", "warning");
      return;
    }
    var message = $(root, "[data-save-message]");
    body.message = message ? message.value : "";
    button.disabled = true;
    postJSON(root.getAttribute("data-save-url"), body)
      .then(function (response) {
        if (!response.ok) return readError(response).then(Promise.reject.bind(Promise));
        return response.json();
      })
      .then(function (data) {
        toast(data.message, data.created ? "success" : "info");
        if (message && data.created) message.value = "";
      })
      .catch(function (text) {
        toast(typeof text === "string" ? text : "Not saved. Try again.", "error");
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  // ---------------------------------------------------------------- copy
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      area.remove();
      if (ok) resolve();
      else reject(new Error("copy failed"));
    });
  }

  // ---------------------------------------------------------------- events
  document.addEventListener("submit", function (event) {
    var root = event.target.closest && event.target.closest("[data-playground]");
    if (!root) return;
    event.preventDefault();
    run(root);
  });

  document.addEventListener("click", function (event) {
    var root = form();
    if (!root) return;
    var t = event.target.closest("button");
    if (!t || !root.contains(t)) return;
    if (t.hasAttribute("data-add-target")) addTarget(root);
    else if (t.hasAttribute("data-remove-target")) {
      t.closest("[data-target]").remove();
      syncTargets(root);
      scheduleEstimate(root);
    } else if (t.hasAttribute("data-rerun")) {
      if (lastBody) run(root, lastBody);
    } else if (t.hasAttribute("data-stop")) {
      if (current) current.controller.abort();
    } else if (t.hasAttribute("data-copy")) {
      var text = $(t.closest("[data-card]"), "[data-card-output]").textContent;
      copyText(text).then(
        function () {
          toast("Output copied.", "success");
        },
        function () {
          toast("Couldn't copy; select the text and copy it by hand.", "error");
        }
      );
    } else if (t.hasAttribute("data-save-draft")) saveDraft(root, t);
    else if (t.hasAttribute("data-upload-clear")) {
      var box = t.closest("[data-upload]");
      $(box, "[data-asset-value]").value = "";
      $(box, "[data-upload-preview]").textContent = "";
      scheduleEstimate(root);
    }
  });

  document.addEventListener("change", function (event) {
    var root = form();
    if (!root || !root.contains(event.target)) return;
    var el = event.target;
    if (el.hasAttribute("data-draft-toggle")) setDraft(root, el.checked);
    else if (el.hasAttribute("data-upload-file")) upload(root, el);
    else if (el.hasAttribute("data-target-model")) syncTargets(root);
    if (!el.hasAttribute("data-source-select")) scheduleEstimate(root);
  });

  document.addEventListener("input", function (event) {
    var root = form();
    if (!root || !root.contains(event.target)) return;
    if (event.target.matches("[data-draft-system], [data-draft-user]")) syncVariables(root);
    scheduleEstimate(root);
  });

  function init(root) {
    root = root || form();
    if (!root) return;
    root.setAttribute("data-ready", "1");
    syncTargets(root);
    syncVariables(root);
    scheduleEstimate(root);
  }

  // Boosted navigation brings a new page (this file is already loaded): set it up once.
  document.addEventListener("htmx:load", function () {
    var root = form();
    if (root && !root.hasAttribute("data-ready")) init(root);
  });
  // A new prompt/version swaps the source card in: refresh variables and the estimate.
  document.addEventListener("htmx:afterSettle", function () {
    if (form()) init();
  });
  // Leaving the page (boosted navigation or not) stops a running stream; the server records it as cancelled.
  document.addEventListener("htmx:beforeHistorySave", function () {
    if (current) current.controller.abort();
  });
  window.addEventListener("pagehide", function () {
    if (current) current.controller.abort();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init();
    });
  } else {
    init();
  }

  window.Playground = { run: function () {
    var root = form();
    if (root) run(root);
  } };
})();
