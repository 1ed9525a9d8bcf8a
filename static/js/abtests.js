/* A/B test and dataset pages: small behaviour, no framework (loaded with defer; safe to load twice).
 *
 * - Columns editor: [data-add-column] appends a row from the <template data-column-template>.
 */
(function () {
  "use strict";
  if (window.AbTests) return;

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-column]");
    if (!button) return;
    var editor = button.closest("[data-columns]");
    var template = editor && editor.querySelector("template[data-column-template]");
    var rows = editor && editor.querySelector("[data-column-rows]");
    if (!template || !rows) return;
    var row = template.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    var input = row.querySelector("input");
    if (input) input.focus();
  });

  window.AbTests = { version: 1 };
})();
