// Starts Swagger UI on /schema. A file of our own, so that the page needs no inline script and
// runs under the site's Content-Security-Policy (web/openapi.py).
const root = document.getElementById("swagger-ui");

window.ui = window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Never send our document to an outside validator (and never load its badge).
  validatorUrl: null,
});
